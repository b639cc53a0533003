/**
 * The all-in-one Kiln server: composes the ingest worker pool (decode, normalize, segment
 * writers), the query engine and the HTTP/gRPC API on one port. `kiln server`
 * (src/cli/main.ts) calls `startKiln`.
 *
 * Data folder layout: `<dataDir>/objects/` (filesystem object store),
 * `<dataDir>/metastore.sqlite` (SQLite metastore, WAL) and `<dataDir>/settings/` (tenant
 * settings of settings.v1, one JSON file per tenant).
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { sendText } from "./api/http-util.ts";
import { createIngestCounters, ingestHttpHandler, registerPushService } from "./api/ingest-routes.ts";
import { registerQuerierServices } from "./api/querier-service.ts";
import { labelValuesHandler, renderDiffHandler, renderHandler } from "./api/render.ts";
import { createRouter, metricsHandler } from "./api/router.ts";
import { startHttpServer } from "./api/server.ts";
import { registerSettingsService, SettingsStore } from "./api/settings-service.ts";
import { staticUiHandler } from "./api/static-ui.ts";
import { orgIdHeader, tenantFromHeader, tenantOf } from "./api/tenant.ts";
import { type KilnConfig, limitOptionsOf } from "./cli/config.ts";
import { startServerCompactor } from "./compactor/server.ts";
import { otlpHttpHandler, otlpHttpPath, registerOtlpProfilesService } from "./formats/otlp/receiver.ts";
import { IngestPool } from "./ingest/ingest-pool.ts";
import type { IngestLimits } from "./ingest/normalize/limits.ts";
import { defaultIngestLimits } from "./ingest/normalize/limits.ts";
import { SqliteMetastore } from "./metastore/sqlite.ts";
import { FsObjectStore } from "./objstore/fs-store.ts";
import type { Logger } from "./observability/log.ts";
import { createRegistry, DURATION_BUCKETS_SECONDS, registerProcessMetrics } from "./observability/metrics.ts";
import { QueryEngine } from "./query/engine.ts";

export interface RunningKiln {
  /** Resolves once writes are accepted (`/ready` answers 200 from then on). */
  ready: Promise<void>;
  /** The bound port (useful with port 0). */
  port: number;
  /** The bound OTLP/gRPC and OTLP/HTTP ports, when those listeners are on (--otlp-grpc-port, --otlp-http-port). */
  otlpGrpcPort?: number;
  otlpHttpPort?: number;
  /** Stops accepting, flushes the open segment, answers its pushes, closes the stores. */
  shutdown(reason: string): Promise<void>;
}

export function ingestLimitsOf(config: KilnConfig): IngestLimits {
  return { ...defaultIngestLimits, ...limitOptionsOf(config) };
}

/** The built web UI, served at `/`: ui/dist beside src/ in the package. */
const uiDistDir = resolve(import.meta.dirname, "../ui/dist");

/** The raw X-Scope-OrgID header, handed from the HTTP layer to the Connect services. */
const orgIdKey = createContextKey<string | undefined>(undefined, { description: "X-Scope-OrgID" });

export async function startKiln(config: KilnConfig, logger: Logger): Promise<RunningKiln> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Opening the metastore once here applies its migrations before the ingest workers, which
  // each open their own connection, start.
  await (await SqliteMetastore.open(dataDir)).close();
  const limits = ingestLimitsOf(config);

  const metrics = createRegistry();
  registerProcessMetrics(metrics);
  const counters = createIngestCounters(metrics);
  const flushes = metrics.counter({
    name: "kiln_segment_flushes_total",
    help: "Segment flushes (one block object each), by outcome.",
    labelNames: ["outcome"],
  });
  const flushDuration = metrics.histogram({
    name: "kiln_segment_flush_duration_seconds",
    help: "Time to encode, upload and register one segment; pushes wait for it.",
    labelNames: ["outcome"],
    buckets: DURATION_BUCKETS_SECONDS,
  });
  const flushBytes = metrics.counter({
    name: "kiln_segment_flush_bytes_total",
    help: "Bytes of block objects written by the segment writer.",
  });

  const pool = await IngestPool.start({
    workers: config.ingestWorkers,
    dataDir,
    limits,
    flushIntervalMs: config.flushIntervalMs,
    segmentBytesMax: config.segmentBytesMax,
    logger,
    onFlush(r) {
      const outcome = r.ok ? "success" : "failure";
      flushes.inc({ outcome });
      flushDuration.observe({ outcome }, r.durationMs / 1000);
      if (r.ok) {
        flushBytes.inc(undefined, r.sizeBytes);
        logger.debug("segment flushed", { ...r });
      } else {
        logger.error("segment flush failed", { blockId: r.blockId, pushes: r.pushes, err: r.error });
      }
    },
  });

  metrics.gauge({
    name: "kiln_segment_open_profiles",
    help: "Profiles in the open segment, waiting for its flush (their pushes wait too).",
    collect: () => pool.pendingProfiles,
  });

  let ready = false;
  const shutdownController = new AbortController();

  // The query side reads the stores through its own handles (SQLite WAL allows concurrent readers).
  const queryStore = await FsObjectStore.open(join(dataDir, "objects"));
  const queryMetastore = await SqliteMetastore.open(dataDir);
  // Compaction merges the flushed segments (src/compactor/); it can also run as its own process.
  const compactor = config.compaction
    ? await startServerCompactor({ dataDir, config, metrics, logger })
    : undefined;
  const engine = new QueryEngine({
    store: queryStore,
    metastore: queryMetastore,
    limits: {
      timeoutMs: config.queryTimeoutMs,
      bytesReadMax: config.queryBytesReadMax,
      memoryBytesMax: config.queryMemoryBytesMax,
    },
    workers: config.queryWorkers,
    cacheBytes: config.querySectionCacheBytes,
    aggregateCacheBytes: config.queryAggregateCacheBytes,
    rollups: config.queryRollups,
    objectsDir: queryStore.root,
  });
  engine.startWorkers();
  const settings = new SettingsStore(dataDir);
  const tenantOfContext = (context: HandlerContext) =>
    tenantFromHeader(context.values.get(orgIdKey), config.multitenancy);
  const render = {
    engine,
    tenantOf: (req: Parameters<typeof tenantOf>[0]) => tenantOf(req, config.multitenancy),
  };

  const ingestRoutes = {
    pool,
    multitenancy: config.multitenancy,
    maxBodyBytes: limits.maxBodyBytes,
    counters,
    logger,
  };
  const otlp = {
    ingest: (job: Parameters<typeof pool.ingest>[0], serviceKey: string) => pool.ingest(job, serviceKey),
    tenantOfRequest: (req: Parameters<typeof tenantOf>[0]) => tenantOf(req, config.multitenancy),
    tenantOfContext,
    maxBodyBytes: limits.maxBodyBytes,
    onStored: (n: number) => counters.stored("otlp", n),
    onRejected: (reason: string) => counters.rejected("otlp", reason),
    logger,
  };

  const router = createRouter({
    logger,
    metrics,
    readMaxBytes: limits.maxBodyBytes,
    shutdownSignal: shutdownController.signal,
    contextValues: (req) => createContextValues().set(orgIdKey, orgIdHeader(req)),
  });
  router
    .get("/ready", (_req, res) => {
      if (ready) sendText(res, 200, "ready\n");
      else sendText(res, 503, "not ready: starting or shutting down\n");
    })
    .get("/metrics", metricsHandler(metrics))
    .post("/ingest", ingestHttpHandler(ingestRoutes))
    .post("/pyroscope/ingest", ingestHttpHandler(ingestRoutes))
    .post(otlpHttpPath, otlpHttpHandler(otlp))
    .get("/pyroscope/render", renderHandler(render))
    .get("/pyroscope/render-diff", renderDiffHandler(render))
    .get("/pyroscope/label-values", labelValuesHandler(render))
    .connect((r) => {
      registerQuerierServices(r, engine, tenantOfContext, { utf8LabelNames: !config.sanitizeLabelNames });
      registerSettingsService(r, settings, tenantOfContext);
    })
    .connect((r) => registerOtlpProfilesService(r, otlp))
    .connect((r) => registerPushService(r, ingestRoutes, tenantOfContext))
    // The web UI (ui/dist, built by `npm run build:ui`) at `/` and its client-side routes.
    .fallbackGet(staticUiHandler({ distDir: uiDistDir, logger }));

  const server = await startHttpServer({
    host: config.host,
    port: config.port,
    handler: router.handler,
    logger,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    closeTimeoutMs: config.shutdownTimeoutMs,
  });

  // The standard OTLP ports, when asked for: listeners that carry only the OTLP receivers.
  // Each router has its own metrics registry (the HTTP metrics names are the main port's).
  const startOtlpListener = async (port: number, route: (r: ReturnType<typeof createRouter>) => void) => {
    const otlpRouter = createRouter({
      logger,
      metrics: createRegistry(),
      readMaxBytes: limits.maxBodyBytes,
      shutdownSignal: shutdownController.signal,
      contextValues: (req) => createContextValues().set(orgIdKey, orgIdHeader(req)),
    });
    route(otlpRouter);
    return startHttpServer({
      host: config.host,
      port,
      handler: otlpRouter.handler,
      logger,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      closeTimeoutMs: config.shutdownTimeoutMs,
    });
  };
  const otlpServers: Awaited<ReturnType<typeof startHttpServer>>[] = [];
  let otlpGrpcServer: (typeof otlpServers)[number] | undefined;
  let otlpHttpServer: (typeof otlpServers)[number] | undefined;
  try {
    if (config.otlpGrpcPort !== 0) {
      otlpGrpcServer = await startOtlpListener(config.otlpGrpcPort, (r) =>
        r.connect((c) => registerOtlpProfilesService(c, otlp)),
      );
      otlpServers.push(otlpGrpcServer);
    }
    if (config.otlpHttpPort !== 0) {
      otlpHttpServer = await startOtlpListener(config.otlpHttpPort, (r) =>
        r.post(otlpHttpPath, otlpHttpHandler(otlp)),
      );
      otlpServers.push(otlpHttpServer);
    }
  } catch (err) {
    // A port in use: release what was started so the failed startup leaves nothing behind.
    for (const s of [server, ...otlpServers]) await s.close();
    await pool.close();
    await engine.close();
    await queryMetastore.close();
    await queryStore.close();
    await compactor?.stop();
    throw err;
  }
  ready = true;
  logger.info("kiln ready", {
    port: server.port,
    host: config.host,
    dataDir,
    ...(otlpGrpcServer === undefined ? {} : { otlpGrpcPort: otlpGrpcServer.port }),
    ...(otlpHttpServer === undefined ? {} : { otlpHttpPort: otlpHttpServer.port }),
  });

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shutdownPromise ??= (async () => {
      logger.info("shutting down", { reason });
      ready = false;
      await Promise.all([server, ...otlpServers].map((s) => s.stopAccepting()));
      // Flushes the open segments: every push accepted so far is answered before we exit.
      await pool.close();
      shutdownController.abort();
      await Promise.all([server, ...otlpServers].map((s) => s.close()));
      await engine.close();
      await queryMetastore.close();
      await queryStore.close();
      await compactor?.stop();
      logger.info("shutdown complete");
    })();
    return shutdownPromise;
  };

  return {
    ready: Promise.resolve(),
    port: server.port,
    ...(otlpGrpcServer === undefined ? {} : { otlpGrpcPort: otlpGrpcServer.port }),
    ...(otlpHttpServer === undefined ? {} : { otlpHttpPort: otlpHttpServer.port }),
    shutdown,
  };
}
