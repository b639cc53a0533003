/**
 * A uPlot time series of SelectSeries results: one line per series over the query's range,
 * values formatted in the profile type's unit, and a horizontal drag that selects a new time
 * range (zoom), handed to `onSelectRange`.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { Series } from "../../api/types.ts";
import type { Theme } from "../../app/theme.ts";
import type { ResolvedRange } from "../../app/time-range.ts";
import { formatValue } from "../../units.ts";

/** Distinct in both themes; series i gets colour i modulo the length. */
export const SERIES_COLORS = [
  "#3b82f6",
  "#f97316",
  "#10b981",
  "#e11d48",
  "#8b5cf6",
  "#eab308",
  "#06b6d4",
  "#db2777",
  "#84cc16",
  "#64748b",
];

/** A drag narrower than this is a click, not a zoom. */
const DRAG_MIN_PX = 3;

export interface ChartSeries {
  label: string;
  points: Series["points"];
}

export function TimeSeriesChart(props: {
  series: ChartSeries[];
  unit: string;
  theme: Theme;
  range: ResolvedRange;
  /** The series' step: steps without a point are drawn as gaps, not bridged by a line. */
  stepMs: number;
  heightPx?: number;
  showLegend?: boolean;
  onSelectRange?: (range: ResolvedRange) => void;
  testId?: string;
}) {
  const containerRef = useRef<HTMLDivElement>(null);
  // The latest callback, read at drag time, so a new closure does not rebuild the chart.
  const onSelectRef = useRef(props.onSelectRange);
  onSelectRef.current = props.onSelectRange;
  const heightPx = props.heightPx ?? 180;

  useEffect(() => {
    const container = containerRef.current;
    if (container === null) return;
    const { data, labels } = alignSeries(props.series, { ...props.range, stepMs: props.stepMs });
    const axisColor = props.theme === "dark" ? "#a1a1aa" : "#52525b";
    const gridColor = props.theme === "dark" ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.07)";
    const single = props.series.length === 1;
    const options: uPlot.Options = {
      width: Math.max(container.clientWidth, 100),
      height: heightPx,
      // A key of colours to values; the values under the cursor would only repeat the table.
      legend: { show: props.showLegend ?? false, live: false },
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: {
        x: { time: true, min: props.range.startMs / 1000, max: props.range.endMs / 1000 },
        // From zero, so heights compare as amounts and a short chart still gets labelled ticks.
        y: { range: (_u, _min, max) => uPlot.rangeNum(0, max > 0 ? max : 1, 0.1, true) },
      },
      series: [
        {},
        ...labels.map((label, i) => {
          const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
          return {
            label,
            stroke: color,
            width: 1.5,
            spanGaps: false,
            // Isolated points (one push between gaps) would be invisible as lines.
            points: { show: true, size: 5, fill: color },
            ...(single ? { fill: `${color}33` } : {}),
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : formatValue(v, props.unit)),
          };
        }),
      ],
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor } },
        {
          stroke: axisColor,
          grid: { stroke: gridColor },
          ticks: { stroke: gridColor },
          size: 72,
          // Short charts (the comparison's) would otherwise get a single "0" tick.
          space: heightPx < 160 ? 16 : 30,
          values: (_u, values) => values.map((v) => formatValue(v, props.unit)),
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width >= DRAG_MIN_PX && onSelectRef.current !== undefined) {
              const startS = u.posToVal(left, "x");
              const endS = u.posToVal(left + width, "x");
              onSelectRef.current({ startMs: Math.round(startS * 1000), endMs: Math.round(endS * 1000) });
            }
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          },
        ],
      },
    };
    const plot = new uPlot(options, data, container);
    const resize = new ResizeObserver(() => {
      const widthPx = Math.max(container.clientWidth, 100);
      if (widthPx !== plot.width) plot.setSize({ width: widthPx, height: heightPx });
    });
    resize.observe(container);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [
    props.series,
    props.unit,
    props.theme,
    props.range.startMs,
    props.range.endMs,
    props.stepMs,
    heightPx,
    props.showLegend,
  ]);

  return (
    <div
      class={`timeseries${props.onSelectRange === undefined ? "" : " zoomable"}`}
      ref={containerRef}
      data-testid={props.testId ?? "timeseries"}
      title={props.onSelectRange === undefined ? undefined : "Drag to zoom into a time range"}
    />
  );
}

/** A step grid finer than this many points is not filled in (only the points are drawn). */
const GRID_POINTS_MAX = 2_000;

/**
 * uPlot wants one shared x array (seconds) and a y array per series, null where absent. The
 * x array holds every step of the range, so a step without data is a gap in the line.
 */
export function alignSeries(
  series: ChartSeries[],
  grid: ResolvedRange & { stepMs: number },
): { data: uPlot.AlignedData; labels: string[] } {
  const timestamps = new Set<number>();
  if (grid.stepMs > 0 && (grid.endMs - grid.startMs) / grid.stepMs <= GRID_POINTS_MAX) {
    for (let t = Math.ceil(grid.startMs / grid.stepMs) * grid.stepMs; t <= grid.endMs; t += grid.stepMs) {
      timestamps.add(t);
    }
  }
  for (const s of series) for (const p of s.points) timestamps.add(p.timestampMs);
  const xsMs = [...timestamps].sort((a, b) => a - b);
  const index = new Map(xsMs.map((ms, i) => [ms, i]));
  const ys = series.map((s) => {
    const column: (number | null)[] = new Array(xsMs.length).fill(null);
    for (const p of s.points) column[index.get(p.timestampMs)!] = p.value;
    return column;
  });
  return { data: [xsMs.map((ms) => ms / 1000), ...ys], labels: series.map((s) => s.label) };
}
