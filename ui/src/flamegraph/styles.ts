/**
 * The flame graph components' stylesheet, injected once into the document head. Kept here (not
 * in the app's stylesheets) so the library is self-contained; colours follow the `theme` prop
 * through `.kfg-dark` because the canvas cannot read CSS variables cheaply anyway.
 */
const CSS = `
.kfg { --kfg-fg: #1f2328; --kfg-muted: #656d76; --kfg-bg: #ffffff; --kfg-panel: #f6f8fa;
  --kfg-border: #d0d7de; --kfg-accent: #0b5fff; --kfg-row-hover: #eef3ff; --kfg-highlight: #fff3c4;
  color: var(--kfg-fg); background: var(--kfg-bg); font: 13px/1.4 system-ui, sans-serif;
  display: flex; flex-direction: column; gap: 6px; min-width: 0; }
.kfg.kfg-dark { --kfg-fg: #e6edf3; --kfg-muted: #9198a1; --kfg-bg: #181b1f; --kfg-panel: #22262c;
  --kfg-border: #3d444d; --kfg-accent: #6ea8ff; --kfg-row-hover: #262f3d; --kfg-highlight: #4a3f10; }
.kfg-toolbar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.kfg-toolbar input[type=search] { flex: 0 1 260px; padding: 4px 8px; border: 1px solid var(--kfg-border);
  border-radius: 4px; background: var(--kfg-bg); color: var(--kfg-fg); }
.kfg-toolbar input.kfg-invalid { border-color: #d1242f; }
.kfg-button { padding: 3px 9px; border: 1px solid var(--kfg-border); border-radius: 4px; cursor: pointer;
  background: var(--kfg-panel); color: var(--kfg-fg); font: inherit; }
.kfg-button[aria-pressed=true] { border-color: var(--kfg-accent); color: var(--kfg-accent); }
.kfg-group { display: inline-flex; border: 0; padding: 0; margin: 0; min-width: 0; }
.kfg-group .kfg-button { border-radius: 0; margin-left: -1px; }
.kfg-group .kfg-button:first-child { border-radius: 4px 0 0 4px; margin-left: 0; }
.kfg-group .kfg-button:last-child { border-radius: 0 4px 4px 0; }
.kfg-summary { color: var(--kfg-muted); font-variant-numeric: tabular-nums; }
.kfg-breadcrumbs { display: flex; flex-wrap: wrap; gap: 2px; align-items: center; min-height: 22px;
  font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.kfg-breadcrumbs button { border: 0; background: none; color: var(--kfg-accent); cursor: pointer; padding: 1px 3px;
  font: inherit; max-width: 40ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.kfg-breadcrumbs button[aria-current=true] { color: var(--kfg-fg); cursor: default; font-weight: 600; }
.kfg-breadcrumbs .kfg-sep { color: var(--kfg-muted); }
.kfg-body { display: flex; gap: 10px; align-items: flex-start; min-width: 0; }
.kfg-body > .kfg-table-wrap { flex: 0 0 42%; max-width: 660px; }
.kfg-body > .kfg-table-wrap:has(> .kfg-diff-table) { flex-basis: 50%; max-width: 820px; }
.kfg-body.kfg-only-table > .kfg-table-wrap { flex: 1 1 auto; max-width: none; }
.kfg-graph { position: relative; flex: 1 1 auto; min-width: 0; outline: none; }
.kfg-graph:focus-visible { box-shadow: 0 0 0 2px var(--kfg-accent); }
.kfg-graph canvas { display: block; }
.kfg-graph canvas.kfg-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.kfg-tooltip { position: fixed; z-index: 20; pointer-events: none; max-width: 520px; padding: 6px 8px;
  background: var(--kfg-panel); border: 1px solid var(--kfg-border); border-radius: 4px;
  box-shadow: 0 4px 14px rgb(0 0 0 / 0.18); font-size: 12px; }
.kfg-tooltip .kfg-tip-name { font-family: ui-monospace, Menlo, monospace; word-break: break-all; margin-bottom: 4px; }
.kfg-tooltip table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.kfg-tooltip td { padding: 0 8px 0 0; }
.kfg-tooltip td:first-child { color: var(--kfg-muted); }
.kfg-menu { position: fixed; z-index: 30; background: var(--kfg-panel); border: 1px solid var(--kfg-border);
  border-radius: 4px; box-shadow: 0 4px 14px rgb(0 0 0 / 0.2); padding: 4px 0; min-width: 180px; }
.kfg-menu button { display: block; width: 100%; text-align: left; border: 0; background: none; color: var(--kfg-fg);
  padding: 4px 12px; cursor: pointer; font: inherit; }
.kfg-menu button:hover { background: var(--kfg-row-hover); }
.kfg-table-wrap { max-height: 70vh; overflow: auto; contain: content; border: 1px solid var(--kfg-border); border-radius: 4px; }
.kfg-table { width: 100%; table-layout: fixed; border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 12px; }
.kfg-table th { position: sticky; top: 0; background: var(--kfg-panel); text-align: right; padding: 4px 6px;
  border-bottom: 1px solid var(--kfg-border); cursor: pointer; user-select: none; white-space: nowrap; }
.kfg-table th.kfg-name, .kfg-table td.kfg-name { text-align: left; }
/* The numbers need little room; the function name takes the rest. */
.kfg-table th:not(.kfg-name) { width: 5.5em; }
.kfg-diff-table th:not(.kfg-name) { width: 8.5em; }
.kfg-diff-table th.kfg-change { width: 12em; }
.kfg-table th[aria-sort=descending]::after { content: " ▾"; }
.kfg-table th[aria-sort=ascending]::after { content: " ▴"; }
.kfg-table td { padding: 2px 6px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--kfg-border); }
.kfg-table td.kfg-name { font-family: ui-monospace, Menlo, monospace; overflow: hidden; }
.kfg-name-cell { display: flex; align-items: center; min-width: 0; }
.kfg-name-cell > .kfg-swatch, .kfg-name-cell > .kfg-row-action { flex: none; }
.kfg-fn { display: flex; flex: 0 1 auto; min-width: 0; overflow: hidden; white-space: nowrap; }
/* The prefix gives way first (it shrinks 1000 times faster), cut at its start. */
.kfg-fn-prefix { flex: 0 1000 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; direction: rtl;
  color: var(--kfg-muted); }
.kfg-fn-short { flex: 0 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.kfg-table tbody tr { cursor: pointer; }
.kfg-table tbody tr:hover { background: var(--kfg-row-hover); }
.kfg-table tbody tr[aria-selected=true] { background: var(--kfg-highlight); }
.kfg-table .kfg-swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 5px; }
/* Transparent rather than hidden until hover, so it stays reachable by keyboard and tests. */
.kfg-table .kfg-row-action { opacity: 0; border: 0; background: none; color: var(--kfg-accent); cursor: pointer;
  padding: 0 2px; font: inherit; }
.kfg-table tr:hover .kfg-row-action, .kfg-table .kfg-row-action:focus-visible { opacity: 1; }
.kfg-more { padding: 6px; color: var(--kfg-muted); text-align: center; }
.kfg-sandwich { border: 1px solid var(--kfg-border); border-radius: 4px; padding: 6px; display: flex;
  flex-direction: column; gap: 4px; }
.kfg-sandwich h3 { margin: 0; font-size: 13px; display: flex; gap: 8px; align-items: center; }
.kfg-sandwich h3 code { word-break: break-all; }
.kfg-sandwich .kfg-label { color: var(--kfg-muted); font-size: 12px; }
.kfg-legend { display: flex; gap: 0; align-items: center; font-size: 11px; }
.kfg-legend span { padding: 2px 6px; color: #111; }
.kfg-legend .kfg-legend-title { color: var(--kfg-muted); padding-left: 0; }
.kfg-up { color: #d1242f; } .kfg-down { color: #1a7f37; }
.kfg-dark .kfg-up { color: #ff7b72; } .kfg-dark .kfg-down { color: #56d364; }
.kfg-empty { padding: 24px; color: var(--kfg-muted); text-align: center; }
`;

let injected = false;

export function ensureStyles(): void {
  if (injected || typeof document === "undefined") return;
  injected = true;
  const style = document.createElement("style");
  style.dataset.kiln = "flamegraph";
  style.textContent = CSS;
  document.head.appendChild(style);
}
