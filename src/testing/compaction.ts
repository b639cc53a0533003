/**
 * Compaction to completion for tests and benchmarks: what a server's compactor does over
 * hours, at once, on a store nothing else is using.
 */

import { Compactor, type JobReport } from "../compactor/compactor.ts";
import { DEFAULT_LEVELS, type LevelPolicy } from "../compactor/planner.ts";
import type { Metastore } from "../metastore/metastore.ts";
import type { ObjectStore } from "../objstore/object-store.ts";

/**
 * Compacts everything compactable now, one level after the other (level n only once level
 * n − 1 is drained, as a server's levels fill over minutes and hours: draining every level at
 * once with no age threshold would merge each pair of fresh blocks and leave many small final
 * blocks). Age thresholds are 0 and sources are deleted at once (no grace period: nothing may
 * be querying the store). For tests and benchmarks. Rejects with every job error.
 */
export async function compactToCompletion(
  store: ObjectStore,
  metastore: Metastore,
  options: { fromLevel?: number; levels?: readonly LevelPolicy[] } = {},
): Promise<JobReport[]> {
  const levels = options.levels ?? DEFAULT_LEVELS;
  const reports: JobReport[] = [];
  for (let n = (options.fromLevel ?? 0) + 1; n <= levels.length; n++) {
    const errors: string[] = [];
    const compactor = new Compactor({
      store,
      metastore,
      levels: levels.slice(0, n).map((l) => ({ ...l, maxAgeMs: 0 })),
      deleteDelayMs: 0,
      hooks: {
        onJob: (report) => reports.push(report),
        onError: (what, error) => errors.push(`${what}: ${String(error)}`),
      },
    });
    await compactor.drain();
    await compactor.stop();
    if (errors.length > 0) throw new Error(`compaction failed: ${errors.join("; ")}`);
  }
  return reports;
}
