/**
 * PNG export: the flame graph as currently focused and searched, drawn by the same renderer
 * on a detached canvas at device pixel ratio 1.
 */
import type { Theme } from "./colors.ts";
import { FlameGraphRenderer } from "./renderer.ts";
import { searchTree } from "./search.ts";
import { decodeFlameGraph, nodeAtPath } from "./tree.ts";
import type { FlameGraphData, FlameGraphDiffData, FlameViewState } from "./types.ts";

export function flameGraphPng(
  data: FlameGraphData | FlameGraphDiffData,
  state: FlameViewState,
  options: { widthPx: number; theme: Theme },
): Promise<Blob> {
  const tree = decodeFlameGraph(data);
  const canvas = document.createElement("canvas");
  const renderer = new FlameGraphRenderer(canvas);
  renderer.setData(tree);
  renderer.setTheme(options.theme);
  renderer.setOrientation(state.orientation);
  renderer.setFocus(nodeAtPath(tree, state.focusPath));
  const search = searchTree(tree, state.search);
  renderer.setMatches(search.matcher.empty ? null : search.nodeMatches);
  renderer.setSize(options.widthPx, 1);
  renderer.draw();
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the PNG"))),
      "image/png",
    );
  });
}
