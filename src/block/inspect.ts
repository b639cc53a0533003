/**
 * Whole-block conveniences for tests and tools (the `kiln` CLI, benchmarks). Not for the query
 * path: they decode every section of every dataset.
 */
import type { BlockReader } from "./block-reader.ts";
import { fail, STACK_DEPTH_MAX } from "./format.ts";
import type { ProfilesSection } from "./profiles-section.ts";
import { stackLocations } from "./stack-tree.ts";
import type { SymbolsSection } from "./symbols.ts";

/** Sum of all sample values per profile type ID over every dataset of the block. */
export async function sumValuesByProfileType(block: BlockReader): Promise<Map<string, bigint>> {
  const sums = new Map<string, bigint>();
  for (const dataset of block.datasets) {
    const [index, profiles] = await Promise.all([block.readIndex(dataset), block.readProfiles(dataset)]);
    for (let profile = 0; profile < profiles.profileCount; profile++) {
      const profileType = index.seriesProfileType[profiles.seriesIndex[profile]!];
      if (!(profileType !== undefined)) fail(`profile ${profile}: series out of range`);
      let sum = 0n;
      for (let i = profiles.sampleOffsets[profile]!; i < profiles.sampleOffsets[profile + 1]!; i++) {
        sum += BigInt(profiles.sampleValues[i]!);
      }
      sums.set(profileType, (sums.get(profileType) ?? 0n) + sum);
    }
  }
  return sums;
}

export interface ResolvedSample {
  /** Function names root → leaf; a frame without a function shows as its hex address. */
  stack: string[];
  value: number;
  /** 0n when the sample has none or the section has no span column. */
  spanId: bigint;
}

/** The samples of profile `profileIndex` with their stacks resolved to function names. */
export function resolveProfileSamples(
  symbols: SymbolsSection,
  profiles: ProfilesSection,
  profileIndex: number,
): ResolvedSample[] {
  if (!(profileIndex >= 0 && profileIndex < profiles.profileCount))
    fail(`profile ${profileIndex} out of range`);
  const samples: ResolvedSample[] = [];
  for (let i = profiles.sampleOffsets[profileIndex]!; i < profiles.sampleOffsets[profileIndex + 1]!; i++) {
    const locations = stackLocations(symbols.stacks, profiles.sampleNodes[i]!, STACK_DEPTH_MAX);
    const stack = locations.reverse().map((location) => frameName(symbols, location));
    samples.push({ stack, value: profiles.sampleValues[i]!, spanId: profiles.sampleSpanIds?.[i] ?? 0n });
  }
  return samples;
}

export function frameName(symbols: SymbolsSection, location: number): string {
  const functionPlus1 = symbols.locationFunctionPlus1[location]!;
  if (functionPlus1 === 0) return `0x${symbols.locationAddress[location]!.toString(16)}`;
  return symbols.strings[symbols.functionNameStr[functionPlus1 - 1]!]!;
}
