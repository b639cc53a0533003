/**
 * Re-render avoidance without preact/compat: `pure` wraps a function component so it renders
 * only when a prop changes (shallow comparison), and `useStableCallback` gives a callback whose
 * identity never changes but always calls the latest function, so passing it keeps a pure
 * child pure. A focus change then redraws the canvas without re-rendering the top table.
 */
import { Component, type ComponentType, type FunctionComponent, h } from "preact";
import { useMemo, useRef } from "preact/hooks";

function shallowEqual(a: object, b: object): boolean {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  for (const key of keys) if (!Object.is(left[key], right[key])) return false;
  return true;
}

export function pure<P extends object>(render: FunctionComponent<P>): ComponentType<P> {
  class Pure extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      return !shallowEqual(this.props, next);
    }

    override render(props: P) {
      return h(render, props);
    }
  }
  return Pure;
}

// biome-ignore lint/suspicious/noExplicitAny: a callback of any signature
export function useStableCallback<F extends (...args: any[]) => unknown>(fn: F): F {
  const ref = useRef(fn);
  ref.current = fn;
  return useMemo(() => ((...args: Parameters<F>) => ref.current(...args)) as F, []);
}
