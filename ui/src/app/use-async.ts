/**
 * Runs an async load when its inputs change, aborting the previous one, so a slow answer to
 * an old query never overwrites a newer one. Keeps the last data while reloading, so views
 * can show it dimmed instead of flashing empty.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../api/errors.ts";

export type AsyncState<T> =
  | { status: "idle"; data: undefined; error: undefined }
  | { status: "loading"; data: T | undefined; error: undefined }
  | { status: "ok"; data: T; error: undefined }
  | { status: "error"; data: T | undefined; error: unknown };

/** `load` returning undefined (instead of a promise) means "nothing to load yet". */
export function useAsync<T>(
  load: (signal: AbortSignal) => Promise<T> | undefined,
  inputs: readonly unknown[],
): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ status: "idle", data: undefined, error: undefined });
  const lastData = useRef<T | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    const pending = load(controller.signal);
    if (pending === undefined) {
      setState({ status: "idle", data: undefined, error: undefined });
      return;
    }
    setState({ status: "loading", data: lastData.current, error: undefined });
    pending.then(
      (data) => {
        if (controller.signal.aborted) return;
        lastData.current = data;
        setState({ status: "ok", data, error: undefined });
      },
      (error: unknown) => {
        if (controller.signal.aborted || isAbort(error)) return;
        setState({ status: "error", data: lastData.current, error });
      },
    );
    return () => controller.abort();
    // The caller lists the inputs, as with useEffect.
  }, inputs);

  return state;
}
