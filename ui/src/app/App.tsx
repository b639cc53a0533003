/**
 * The app shell: header with navigation and theme toggle, and the view the URL names.
 * Navigating between views keeps the selection (query, type, range) in the URL.
 */

import { useEffect } from "preact/hooks";
import { defaultFlameViewState } from "../flamegraph/index.ts";
import { ComparisonView } from "../views/compare/ComparisonView.tsx";
import { ExploreView } from "../views/explore/ExploreView.tsx";
import { TagExplorerView } from "../views/tags/TagExplorerView.tsx";
import { serviceOf } from "./selector.ts";
import { type Theme, useTheme } from "./theme.ts";
import { formatState, type Route } from "./url-state.ts";
import { useAppState } from "./use-app-state.ts";

const NAV: readonly { route: Route; label: string }[] = [
  { route: "explore", label: "Explore" },
  { route: "tags", label: "Tag explorer" },
  { route: "compare", label: "Comparison" },
];

export function App() {
  const [state, update] = useAppState();
  const { theme, toggle } = useTheme();
  const service = serviceOf(state.main.query);
  useEffect(() => {
    // Names the tab (and a bookmark) after the view and service.
    const view = NAV.find((item) => item.route === state.route)?.label ?? "";
    document.title = ["Kiln", view, service].filter((part) => part !== "").join(" · ");
  }, [state.route, service]);
  return (
    <div class="app">
      <header class="app-header">
        <a class="brand" href="/" aria-label="Kiln home">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Kiln
        </a>
        <nav class="app-nav" aria-label="Views">
          {NAV.map((item) => (
            <a
              key={item.route}
              href={formatState({ ...state, route: item.route }, defaultFlameViewState)}
              class={state.route === item.route ? "active" : ""}
              aria-current={state.route === item.route ? "page" : undefined}
              data-testid={`nav-${item.route}`}
              onClick={(event) => {
                if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
                event.preventDefault();
                update((s) => ({ ...s, route: item.route }), { push: true });
              }}
            >
              {item.label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <ThemeToggle theme={theme} onToggle={toggle} />
      </header>
      <main class="app-main">
        {state.route === "tags" ? (
          <TagExplorerView state={state} update={update} theme={theme} />
        ) : state.route === "compare" ? (
          <ComparisonView state={state} update={update} theme={theme} />
        ) : (
          <ExploreView state={state} update={update} theme={theme} />
        )}
      </main>
    </div>
  );
}

function ThemeToggle(props: { theme: Theme; onToggle: () => void }) {
  const next = props.theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      class="icon-button theme-toggle"
      onClick={props.onToggle}
      title={`Switch to the ${next} theme`}
      aria-label={`Switch to the ${next} theme`}
      data-testid="theme-toggle"
    >
      {props.theme === "dark" ? "☀" : "☾"}
    </button>
  );
}
