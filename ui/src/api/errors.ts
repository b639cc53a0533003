/**
 * An error from the server, with what the user needs: the Connect code and the server's own
 * message (wire reference §4.6), or a network failure.
 */
export class ApiError extends Error {
  /** The Connect code (`invalid_argument`, …), or "network" when no answer came. */
  readonly code: string;
  /** HTTP status; 0 when the request did not reach the server. */
  readonly status: number;

  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }
}

/** What to try next, by error code: shown under the server's message. */
export function hintFor(error: unknown): string {
  if (!(error instanceof ApiError)) return "Reload the page; if it persists, check the browser console.";
  switch (error.code) {
    case "network":
      return "Is the Kiln server running and reachable from this browser? Check the address and try again.";
    case "invalid_argument":
    case "failed_precondition":
    case "out_of_range":
      return 'Check the label selector syntax, e.g. {service_name="api", env=~"prod|staging"}, and the time range.';
    case "resource_exhausted":
      return "The query reads too much data: narrow the time range or add label matchers.";
    case "deadline_exceeded":
    case "canceled":
      return "The query took too long: narrow the time range or add label matchers, then retry.";
    case "unavailable":
      return "The server is starting or shutting down; retry in a few seconds.";
    case "unauthenticated":
    case "permission_denied":
      return "The server refused the request: check the tenant (X-Scope-OrgID) and access settings.";
    default:
      return "Retry; if it persists, the server log has the details.";
  }
}

/** Is this the error of a request we aborted ourselves (a newer query replaced it)? */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
