/**
 * Series labels: a list of (name, value) pairs, sorted by name, names unique.
 * Kept as plain arrays of tuples because they are created on the ingest hot path and
 * compared/serialized far more often than they are looked up.
 */
export type Label = readonly [name: string, value: string];
export type Labels = readonly Label[];

/** Well-known label names (wire reference §6.2). */
export const LabelName = {
  metricName: "__name__",
  serviceName: "service_name",
  profileType: "__profile_type__",
  type: "__type__",
  unit: "__unit__",
  periodType: "__period_type__",
  periodUnit: "__period_unit__",
  serviceNamePrivate: "__service_name__",
  delta: "__delta__",
  otel: "__otel__",
  order: "__order__",
  sessionId: "__session_id__",
  spy: "pyroscope_spy",
  appName: "app_name",
} as const;

export const unknownServiceName = "unknown_service";

export function compareLabels(a: Label, b: Label): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Returns a new array sorted by name. Does not deduplicate. */
export function sortLabels(labels: Iterable<Label>): Label[] {
  return [...labels].sort(compareLabels);
}

export function getLabel(labels: Labels, name: string): string | undefined {
  for (const [n, v] of labels) if (n === name) return v;
  return undefined;
}

/**
 * A stable string key for a sorted label set, used to group profiles into series.
 * The separators (\xff between name and value, \xfe between pairs) cannot occur in valid
 * UTF-8 label text, so distinct label sets never share a key.
 */
export function labelsKey(labels: Labels): string {
  let key = "";
  for (const [n, v] of labels) key += `${n}\xff${v}\xfe`;
  return key;
}

/** Prometheus-style rendering: {a="b", c="d"}. */
export function formatLabels(labels: Labels): string {
  return `{${labels.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(", ")}}`;
}
