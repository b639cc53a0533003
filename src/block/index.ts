/**
 * Block format v1 (docs/block-format.md): the public surface of src/block. Other components
 * import from this file only.
 */

export { DatasetMerger, type DatasetMergeStats, type MergeInput } from "./block-merge.ts";
export {
  BlockReader,
  type DecodedSection,
  openBlock,
  readIndex,
  readProfiles,
  readSection,
  readSymbols,
} from "./block-reader.ts";
export {
  assembleBlock,
  assembleBlockAsync,
  type EncodedBlock,
  encodeBlock,
  encodeBlockAsync,
} from "./block-writer.ts";
export { DatasetBuilder, type EncodedDataset } from "./dataset-builder.ts";
export { BlockFormatError, FORMAT_VERSION, SectionKind, sectionKindName } from "./format.ts";
export type { IndexSection } from "./index-section.ts";
export { frameName, type ResolvedSample, resolveProfileSamples, sumValuesByProfileType } from "./inspect.ts";
export { formatUuid, type ProfilesSection } from "./profiles-section.ts";
export { type StackTree, stackLocations } from "./stack-tree.ts";
export { SymbolsBuilder, type SymbolsSection } from "./symbols.ts";
