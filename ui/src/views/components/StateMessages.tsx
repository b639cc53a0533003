/**
 * The loading, error and empty states: each says what is happening and what to do next.
 */
import type { ComponentChildren } from "preact";
import { ApiError, hintFor } from "../../api/errors.ts";

export function Loading(props: { what: string }) {
  return (
    <div class="state state-loading" role="status" data-testid="loading">
      <span class="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

export function ErrorMessage(props: { error: unknown; what: string; onRetry?: () => void }) {
  const { error } = props;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div class="state state-error" role="alert" data-testid="error">
      <strong>Could not load {props.what}.</strong>
      <p class="state-message">
        {code !== undefined && code !== "network" ? <code>{code}</code> : null} {message}
      </p>
      <p class="state-hint">{hintFor(error)}</p>
      {props.onRetry === undefined ? null : (
        <button type="button" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** How to send a first profile: shown when the server has nothing to show. */
export function PushHint() {
  const origin = window.location.origin;
  return (
    <div class="push-hint">
      <p>Push a pprof file (for example one from Go's runtime/pprof):</p>
      <pre>
        <code>{`curl -X POST --data-binary @cpu.pb.gz '${origin}/ingest?name=my-app'`}</code>
      </pre>
      <p>
        Or point a Pyroscope SDK, Grafana Alloy or an OpenTelemetry profiler at <code>{origin}</code>: Kiln
        speaks the same ingest API as Pyroscope. Then refresh this page.
      </p>
    </div>
  );
}

export function EmptyState(props: { title: string; children?: ComponentChildren; showPushHint?: boolean }) {
  return (
    <div class="state state-empty" data-testid="empty">
      <strong>{props.title}</strong>
      {props.children}
      {props.showPushHint === true ? <PushHint /> : null}
    </div>
  );
}
