/**
 * Profile type: `name:sample_type:sample_unit:period_type:period_unit` (wire reference §6.1),
 * e.g. `process_cpu:cpu:nanoseconds:cpu:nanoseconds`. Empty components are legal.
 */
export interface ProfileType {
  readonly name: string;
  readonly sampleType: string;
  readonly sampleUnit: string;
  readonly periodType: string;
  readonly periodUnit: string;
}

export function profileTypeId(t: ProfileType): string {
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`;
}

/** Parses a 5- or 6-part ID (a 6th part such as `:delta` is tolerated and ignored). */
export function parseProfileTypeId(id: string): ProfileType {
  const parts = id.split(":");
  if (parts.length !== 5 && parts.length !== 6) {
    throw new Error(`invalid profile type ID ${JSON.stringify(id)}: want 5 colon-separated parts`);
  }
  const [name, sampleType, sampleUnit, periodType, periodUnit] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (name === "") throw new Error(`invalid profile type ID ${JSON.stringify(id)}: empty name`);
  return { name, sampleType, sampleUnit, periodType, periodUnit };
}
