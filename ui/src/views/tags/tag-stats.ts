/**
 * The tag explorer's table: per value of the grouped label, the total over the range, the
 * average per point (per step), and the share of all values' totals.
 */
import type { Series } from "../../api/types.ts";

export interface TagRow {
  /** The label's value; "" when a series does not carry the label. */
  value: string;
  total: number;
  /** Mean of the series' points (each point is one step's sum). */
  average: number;
  /** total / sum of all rows' totals; 0 when everything is 0. */
  share: number;
  /** Index of the series in the chart (same colour). */
  seriesIndex: number;
}

export function tagRows(series: Series[], label: string): TagRow[] {
  const rows = series.map((s, seriesIndex) => {
    const total = s.points.reduce((sum, p) => sum + p.value, 0);
    return {
      value: s.labels.find((l) => l.name === label)?.value ?? "",
      total,
      average: s.points.length === 0 ? 0 : total / s.points.length,
      share: 0,
      seriesIndex,
    };
  });
  const grandTotal = rows.reduce((sum, r) => sum + r.total, 0);
  for (const row of rows) row.share = grandTotal === 0 ? 0 : row.total / grandTotal;
  return rows.sort((a, b) => b.total - a.total || a.value.localeCompare(b.value));
}
