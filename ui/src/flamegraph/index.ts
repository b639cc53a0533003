/**
 * The flame graph library's public surface (the contract with the app shell): data and state
 * types, the ProfileView and DiffView components, and the PNG export.
 */
export { DiffView } from "./DiffView.tsx";
export type { FlamegraphTestHooks } from "./FlameCanvas.tsx";
export { ProfileView } from "./ProfileView.tsx";
export { flameGraphPng } from "./png.ts";
export {
  defaultFlameViewState,
  type FlameGraphData,
  type FlameGraphDiffData,
  type FlameViewState,
} from "./types.ts";
