/**
 * Per-tenant ingest limits, with Pyroscope's defaults (pkg/validation/limits.go and
 * ValidateProfile in pkg/validation/validate.go; wire reference §2.8). A limit of 0 disables
 * that check, as in Pyroscope.
 */
export interface IngestLimits {
  /** Decompressed pprof size (max_profile_size_bytes). */
  maxProfileSizeBytes: number;
  /** Samples per pprof (max_profile_stacktrace_samples). */
  maxProfileSamples: number;
  /** Labels per series (max_label_names_per_series). */
  maxLabelNamesPerSeries: number;
  /** Label name length in bytes (max_label_name_length). */
  maxLabelNameLength: number;
  /** Label value length in bytes (max_label_value_length). */
  maxLabelValueLength: number;
  /** Labels on one pprof sample (max_profile_stacktrace_sample_labels). */
  maxSampleLabels: number;
  /** Frames kept per stack; deeper stacks lose their leaf-most frames (max_profile_stacktrace_depth). */
  maxStackDepth: number;
  /** Symbol (string table entry) length in bytes; longer ones keep their last bytes (max_profile_symbol_value_length). */
  maxSymbolLength: number;
  /** Profiles older than now minus this are rejected (reject_older_than); 0 disables. */
  rejectOlderThanMs: number;
  /** Profiles newer than now plus this are rejected (creation_grace_period); 0 disables. */
  creationGracePeriodMs: number;
  /** Rewrite `.` to `_` in label names (off by default since Pyroscope 2.0). */
  sanitizeLabelNames: boolean;
  /** HTTP request body size, compressed (enforced by the receivers). */
  maxBodyBytes: number;
  /** Ingestion rate and burst per tenant (enforced by the receivers; resource_exhausted). */
  ingestionRateBytesPerSec: number;
  ingestionBurstBytes: number;
}

const MiB = 1024 * 1024;

export const defaultIngestLimits: Readonly<IngestLimits> = Object.freeze({
  maxProfileSizeBytes: 4 * MiB,
  maxProfileSamples: 16000,
  maxLabelNamesPerSeries: 30,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxSampleLabels: 100,
  maxStackDepth: 1000,
  maxSymbolLength: 65535,
  rejectOlderThanMs: 60 * 60 * 1000,
  creationGracePeriodMs: 10 * 60 * 1000,
  sanitizeLabelNames: false,
  maxBodyBytes: 256 * MiB,
  ingestionRateBytesPerSec: 4 * MiB,
  ingestionBurstBytes: 2 * MiB,
});
