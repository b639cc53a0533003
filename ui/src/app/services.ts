/** The one query client of the app: same origin, since Kiln serves the UI itself. */
import { QueryClient } from "../api/client.ts";

export const queryClient = new QueryClient();

/** Flame graph size asked of the server: detailed, and still drawn smoothly (issue 6: 50,000 nodes). */
export const FLAMEGRAPH_MAX_NODES = 16_384;
