/**
 * The ingest endpoints of the main port: Pyroscope's `/ingest` and push.v1's Push. Both
 * read the request, resolve the tenant and hand the payload to the ingest worker pool,
 * which decodes, normalizes and stores it; the answer waits until the profiles are durable.
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { PusherService, PushResponseSchema } from "../gen/push/v1/push_pb.js";
import type { IngestPool } from "../ingest/ingest-pool.ts";
import { IngestHttpError } from "../ingest/receivers/ingest-http.ts";
import { KilnError } from "../model/errors.ts";
import { getLabel, LabelName } from "../model/labels.ts";
import type { Logger } from "../observability/log.ts";
import type { Registry } from "../observability/metrics.ts";
import { type HttpHandler, readBody, sendError, sendText } from "./http-util.ts";
import { tenantOf } from "./tenant.ts";

/** Counters of what each receiver stored and refused (the OTLP receiver reports here too). */
export interface IngestCounters {
  stored(receiver: string, profiles: number): void;
  rejected(receiver: string, reason: string): void;
}

export function createIngestCounters(metrics: Registry): IngestCounters {
  const profilesIngested = metrics.counter({
    name: "kiln_ingest_profiles_total",
    help: "Profiles stored (one per sample type and series), by receiver.",
    labelNames: ["receiver"],
  });
  const rejected = metrics.counter({
    name: "kiln_ingest_rejected_total",
    help: "Ingest requests refused, by receiver and reason.",
    labelNames: ["receiver", "reason"],
    seriesMax: 500,
  });
  return {
    stored: (receiver, profiles) => profilesIngested.inc({ receiver }, profiles),
    rejected: (receiver, reason) => rejected.inc({ receiver, reason }),
  };
}

export interface IngestRoutesDeps {
  pool: IngestPool;
  multitenancy: boolean;
  maxBodyBytes: number;
  counters: IngestCounters;
  logger: Logger;
}

/** POST /ingest (and /pyroscope/ingest), answered with the statuses of wire reference §2.7. */
export function ingestHttpHandler(deps: IngestRoutesDeps): HttpHandler {
  return async (req, res) => {
    try {
      const tenant = tenantOf(req, deps.multitenancy);
      const body = await readBody(req, { maxBytes: deps.maxBodyBytes });
      const url = new URL(req.url ?? "/", "http://localhost");
      const job = {
        kind: "http" as const,
        tenant,
        query: url.search.slice(1),
        contentType: req.headers["content-type"],
        body,
        nowMs: Date.now(),
      };
      // Route by the app name (before any `{labels}`): one service, one worker.
      const serviceKey = (url.searchParams.get("name") ?? "").split("{", 1)[0]!;
      deps.counters.stored("ingest", await deps.pool.ingest(job, serviceKey));
      sendText(res, 200, "");
    } catch (err) {
      const reason = err instanceof KilnError ? err.reason : "internal";
      deps.counters.rejected("ingest", reason);
      let status: number | undefined;
      if (err instanceof IngestHttpError) status = err.status;
      else if (err instanceof KilnError && err.reason === "body_too_large") status = 413;
      if (err instanceof KilnError) deps.logger.debug("ingest refused", { reason, msg: err.message });
      sendError(res, err, { status, logger: deps.logger });
    }
  };
}

/** push.v1.PusherService on Connect, gRPC and gRPC-web (wire reference §3). */
export function registerPushService(
  router: ConnectRouter,
  deps: IngestRoutesDeps,
  tenantOfContext: (context: HandlerContext) => string,
): void {
  router.service(PusherService, {
    async push(request, context) {
      try {
        const tenant = tenantOfContext(context);
        const series = request.series.map((s) => ({
          labels: s.labels.map((l) => ({ name: l.name, value: l.value })),
          samples: s.samples.map((sample) => ({ rawProfile: sample.rawProfile })),
        }));
        const first = series[0]?.labels.map((l) => [l.name, l.value] as const) ?? [];
        const serviceKey = getLabel(first, LabelName.serviceName) ?? "";
        deps.counters.stored(
          "push",
          await deps.pool.ingest({ kind: "push", tenant, series, nowMs: Date.now() }, serviceKey),
        );
      } catch (err) {
        deps.counters.rejected("push", err instanceof KilnError ? err.reason : "internal");
        throw err;
      }
      return create(PushResponseSchema);
    },
  });
}
