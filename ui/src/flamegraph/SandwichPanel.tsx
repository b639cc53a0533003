/**
 * The sandwich view of one function: its callers drawn as a flame (the function at the
 * bottom, callers growing up) right above its callees drawn as an icicle (the function at the
 * top), so both meet at the function. Each half has its own local focus.
 */
import type { JSX } from "preact";
import { useMemo, useState } from "preact/hooks";
import { formatPercent, formatValue } from "../units.ts";
import type { Theme } from "./colors.ts";
import { FlameCanvas } from "./FlameCanvas.tsx";
import { ProfileTooltip } from "./parts.tsx";
import { sandwich } from "./sandwich.ts";
import { decodeFlameGraph, type FlameTree } from "./tree.ts";

export function SandwichPanel(props: {
  tree: FlameTree;
  name: string;
  unit: string;
  theme: Theme;
  onClose: () => void;
}): JSX.Element {
  const { tree, name, unit, theme } = props;
  const halves = useMemo(() => {
    const result = sandwich(tree, name);
    return { callers: decodeFlameGraph(result.callers), callees: decodeFlameGraph(result.callees) };
  }, [tree, name]);
  const [callersFocus, setCallersFocus] = useState(0);
  const [calleesFocus, setCalleesFocus] = useState(0);
  const total = halves.callees.rootTotal;
  return (
    <section class="kfg-sandwich kfg-graph" data-testid="sandwich" aria-label={`Sandwich view of ${name}`}>
      <h3>
        <span>Sandwich</span>
        <code>{name}</code>
        <span class="kfg-label">
          total {formatValue(total, unit)}
          {tree.rootTotal > 0 ? ` (${formatPercent(total / tree.rootTotal)})` : ""}
        </span>
        <span style={{ flex: "1 1 auto" }} />
        <button type="button" class="kfg-button" onClick={props.onClose}>
          Close
        </button>
      </h3>
      {total === 0 ? (
        <div class="kfg-empty">This function does not appear in the current profile.</div>
      ) : (
        <>
          <div class="kfg-label">Callers (who calls it, outermost at the top)</div>
          <FlameCanvas
            tree={halves.callers}
            theme={theme}
            orientation="flame"
            focus={callersFocus}
            onFocus={setCallersFocus}
            matches={null}
            tooltip={(node) => (
              <ProfileTooltip tree={halves.callers} node={node} focus={callersFocus} unit={unit} />
            )}
            canvasTestId="sandwich-callers-canvas"
          />
          <div class="kfg-label">Callees (what it calls)</div>
          <FlameCanvas
            tree={halves.callees}
            theme={theme}
            orientation="icicle"
            focus={calleesFocus}
            onFocus={setCalleesFocus}
            matches={null}
            tooltip={(node) => (
              <ProfileTooltip tree={halves.callees} node={node} focus={calleesFocus} unit={unit} />
            )}
            canvasTestId="sandwich-callees-canvas"
          />
        </>
      )}
    </section>
  );
}
