/**
 * The OTLP profiles endpoints on the main port (wire reference §7.1):
 * - OTLP/HTTP `POST /v1development/profiles`: application/x-protobuf, application/protobuf or
 *   application/json, optionally `Content-Encoding: gzip`. 200 answers carry
 *   `Content-Type: application/x-protobuf` and the serialized ExportProfilesServiceResponse
 *   (the empty message: a zero-length body), also for JSON requests. Errors are plain text:
 *   400 invalid, 401 missing tenant, 413 too large, 415 unsupported Content-Type or
 *   Content-Encoding, 429 ingest limits (busy workers), 500 anything else.
 * - gRPC `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export` (and,
 *   through connect-node, Connect and gRPC-web on the same path). The decoded request is
 *   re-encoded to binary and takes the same path as an HTTP one.
 *
 * Both hand the raw body to an ingest worker as an `otlp` job; the worker decodes, converts
 * and normalizes it (src/formats/otlp/ingest.ts) and answers once it is durable.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { type HttpHandler, type HttpRequest, readBody, sendText } from "../../api/http-util.ts";
import {
  type ExportProfilesServiceRequest,
  ExportProfilesServiceRequestSchema,
  ExportProfilesServiceResponseSchema,
  ProfilesService,
} from "../../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import type { OtlpIngestJob } from "../../ingest/ingest-messages.ts";
import { IngestHttpError } from "../../ingest/receivers/ingest-http.ts";
import { httpStatusOfCode, KilnError } from "../../model/errors.ts";
import type { Logger } from "../../observability/log.ts";
import { otlpEncodingOf } from "./decode.ts";

export const otlpHttpPath = "/v1development/profiles";

export interface OtlpReceiverDeps {
  /** Runs a job on the ingest workers; resolves with the number of profiles stored. */
  ingest(job: OtlpIngestJob, serviceKey: string): Promise<number>;
  tenantOfRequest(req: HttpRequest): string;
  tenantOfContext(context: HandlerContext): string;
  /** Largest request body, compressed or not (max_body_bytes); also caps gzip output. */
  maxBodyBytes: number;
  onStored?(profiles: number): void;
  onRejected?(reason: string): void;
  logger: Logger;
}

/** HTTP status of an OTLP/HTTP failure. */
export function otlpHttpStatusOf(err: unknown): number {
  if (err instanceof IngestHttpError) return err.status;
  if (err instanceof KilnError) return err.reason === "body_too_large" ? 413 : httpStatusOfCode[err.code];
  return 500;
}

export function otlpHttpHandler(deps: OtlpReceiverDeps): HttpHandler {
  return async (req, res) => {
    try {
      const tenant = deps.tenantOfRequest(req);
      const contentType = req.headers["content-type"];
      otlpEncodingOf(contentType); // 415 before the body is read
      const body = await readBody(req, { maxBytes: deps.maxBodyBytes });
      const contentEncoding = req.headers["content-encoding"];
      const job: OtlpIngestJob = {
        kind: "otlp",
        tenant,
        contentType,
        contentEncoding,
        // A copy that owns its buffer: the body may be a view into a larger socket buffer,
        // which structured cloning to the worker would copy whole.
        body: new Uint8Array(body),
        nowMs: Date.now(),
      };
      const stored = await deps.ingest(job, "");
      deps.onStored?.(stored);
      // The serialized empty ExportProfilesServiceResponse is zero bytes long.
      sendText(res, 200, "", "application/x-protobuf");
    } catch (err) {
      const status = otlpHttpStatusOf(err);
      deps.onRejected?.(err instanceof KilnError ? err.reason : "internal");
      if (!(err instanceof KilnError)) deps.logger.error("otlp ingest failed", { err });
      const message = err instanceof KilnError ? err.message : "internal error";
      sendText(res, status, `${message}\n`);
    }
  };
}

/** The service name of the first resource, to route one service to one worker. */
function firstServiceName(request: ExportProfilesServiceRequest): string {
  for (const kv of request.resourceProfiles[0]?.resource?.attributes ?? []) {
    if (kv.key === "service.name" && kv.value?.value.case === "stringValue") return kv.value.value.value;
  }
  return "";
}

export function registerOtlpProfilesService(router: ConnectRouter, deps: OtlpReceiverDeps): void {
  router.service(ProfilesService, {
    async export(request, context) {
      try {
        const tenant = deps.tenantOfContext(context);
        const job: OtlpIngestJob = {
          kind: "otlp",
          tenant,
          contentType: "application/x-protobuf",
          contentEncoding: undefined,
          body: toBinary(ExportProfilesServiceRequestSchema, request),
          nowMs: Date.now(),
        };
        deps.onStored?.(await deps.ingest(job, firstServiceName(request)));
      } catch (err) {
        deps.onRejected?.(err instanceof KilnError ? err.reason : "internal");
        throw err;
      }
      return create(ExportProfilesServiceResponseSchema);
    },
  });
}
