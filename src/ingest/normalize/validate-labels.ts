/**
 * Series label validation and optional name sanitization (wire reference §2.8; Pyroscope's
 * ValidateLabels). Lengths are in UTF-8 bytes, as Go's len() counts them. Every violation is a
 * KilnError("invalid_argument") whose message names the limit option and the value seen.
 */
import { KilnError } from "../../model/errors.ts";
import { formatLabels, type Label, LabelName, sortLabels } from "../../model/labels.ts";
import type { IngestLimits } from "./limits.ts";

function invalid(reason: string, message: string): KilnError {
  return new KilnError("invalid_argument", reason, message);
}

/** UTF-8 byte length, without encoding when the answer is obvious. */
function byteLength(s: string, limit: number): number {
  // Each UTF-16 unit takes at most 3 UTF-8 bytes, so short strings need no count.
  if (s.length * 3 <= limit) return s.length;
  return Buffer.byteLength(s, "utf8");
}

/** Label names under sanitization: Prometheus' legacy charset plus dots, which are rewritten. */
const sanitizableName = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/**
 * With sanitization on, rewrites `.` to `_` in label names; a rewritten name that collides
 * with another label of a different value is an error, the same value merges. Returns sorted labels.
 */
export function sanitizeLabelNames(labels: readonly Label[]): Label[] {
  const byName = new Map<string, string>();
  for (const [name, value] of labels) {
    if (!sanitizableName.test(name)) {
      throw invalid(
        "invalid_label_name",
        `invalid label name ${JSON.stringify(name)} in ${formatLabels(labels)}`,
      );
    }
    const clean = name.replaceAll(".", "_");
    const seen = byName.get(clean);
    if (seen !== undefined && seen !== value) {
      throw invalid(
        "duplicate_label_names",
        `label ${JSON.stringify(name)} sanitizes to ${JSON.stringify(clean)}, which already has a different value in ${formatLabels(labels)}`,
      );
    }
    byName.set(clean, value);
  }
  return sortLabels(byName.entries());
}

/** Validates a sorted series label set (before the private labels of §6.2 are added). */
export function validateSeriesLabels(labels: readonly Label[], limits: IngestLimits): void {
  if (labels.length === 0) throw invalid("missing_labels", "at least one label pair is required per profile");
  if (limits.maxLabelNamesPerSeries > 0 && labels.length > limits.maxLabelNamesPerSeries) {
    throw invalid(
      "too_many_labels",
      `series ${formatLabels(labels)} has ${labels.length} labels, limit ${limits.maxLabelNamesPerSeries} (max_label_names_per_series)`,
    );
  }
  let metricName: string | undefined;
  let serviceName: string | undefined;
  let previous: string | undefined;
  for (const [name, value] of labels) {
    if (name === LabelName.metricName) metricName = value;
    if (name === LabelName.serviceName) serviceName = value;
    if (limits.maxLabelNameLength > 0) {
      const n = byteLength(name, limits.maxLabelNameLength);
      if (n > limits.maxLabelNameLength) {
        throw invalid(
          "label_name_too_long",
          `label name ${JSON.stringify(name.slice(0, 64))}… is ${n} bytes, limit ${limits.maxLabelNameLength} (max_label_name_length)`,
        );
      }
    }
    if (limits.maxLabelValueLength > 0) {
      const n = byteLength(value, limits.maxLabelValueLength);
      if (n > limits.maxLabelValueLength) {
        throw invalid(
          "label_value_too_long",
          `value of label ${JSON.stringify(name)} is ${n} bytes, limit ${limits.maxLabelValueLength} (max_label_value_length)`,
        );
      }
    }
    if (name === "" || !name.isWellFormed()) {
      throw invalid(
        "invalid_label_name",
        `invalid label name ${JSON.stringify(name)} in ${formatLabels(labels)}`,
      );
    }
    if (!value.isWellFormed()) {
      throw invalid("invalid_label_value", `invalid UTF-8 in the value of label ${JSON.stringify(name)}`);
    }
    if (name === previous) {
      throw invalid(
        "duplicate_label_names",
        `label ${JSON.stringify(name)} appears twice in ${formatLabels(labels)}`,
      );
    }
    previous = name;
  }
  if (metricName === undefined || metricName === "" || !metricName.isWellFormed()) {
    throw invalid(
      "missing_metric_name",
      `series ${formatLabels(labels)} has no valid __name__ (profile name)`,
    );
  }
  if (!serviceName) {
    throw invalid("invalid_service_name", `series ${formatLabels(labels)} has an empty service_name`);
  }
}
