/**
 * The app state is the URL (url-state.ts): this hook reads it, re-reads it on Back/Forward
 * (popstate), and writes changes with pushState (a step the user may want to go back to:
 * a new query, range, zoom or view) or replaceState (typing in a search box).
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { defaultFlameViewState } from "../flamegraph/index.ts";
import { type AppState, formatState, parseState } from "./url-state.ts";

export type UpdateState = (change: (state: AppState) => AppState, options?: { push?: boolean }) => void;

function readLocation(): AppState {
  return parseState(window.location.pathname, window.location.search, defaultFlameViewState);
}

export function useAppState(): [AppState, UpdateState] {
  const [state, setState] = useState<AppState>(readLocation);

  useEffect(() => {
    const onPopState = () => setState(readLocation());
    window.addEventListener("popstate", onPopState);
    return () => window.removeEventListener("popstate", onPopState);
  }, []);

  const update = useCallback<UpdateState>((change, options = {}) => {
    // Reads the URL rather than a captured state, so two updates in one tick both apply.
    const next = change(readLocation());
    const url = formatState(next, defaultFlameViewState);
    if (url !== `${window.location.pathname}${window.location.search}`) {
      if (options.push === true) window.history.pushState(null, "", url);
      else window.history.replaceState(null, "", url);
    }
    setState(next);
  }, []);

  return [state, update];
}
