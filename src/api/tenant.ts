/**
 * Tenancy: with multi-tenancy on, the tenant is the `X-Scope-OrgID` header (required); with it
 * off, every request belongs to `anonymous`, as in Pyroscope. Tenant ids follow the Cortex
 * rules Pyroscope inherits, so an id valid there is valid here and cannot escape an object
 * key: at most 150 characters of `[A-Za-z0-9!\-_.*'()]`, and not `.` or `..`.
 */
import { KilnError } from "../model/errors.ts";
import type { HttpRequest } from "./http-util.ts";

export const anonymousTenant = "anonymous";
export const tenantHeader = "x-scope-orgid";
const tenantIdLengthMax = 150;
const tenantIdPattern = /^[A-Za-z0-9!\-_.*'()]+$/;

export function tenantOf(req: HttpRequest, multitenancy: boolean): string {
  return tenantFromHeader(orgIdHeader(req), multitenancy);
}

/** The raw `X-Scope-OrgID` value of a request (the first one if repeated). */
export function orgIdHeader(req: HttpRequest): string | undefined {
  const raw = req.headers[tenantHeader];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** Validates an `X-Scope-OrgID` value; see the module comment. */
export function tenantFromHeader(id: string | undefined, multitenancy: boolean): string {
  if (!multitenancy) return anonymousTenant;
  if (id === undefined || id === "") {
    throw new KilnError(
      "unauthenticated",
      "missing_tenant",
      "no org id: the X-Scope-OrgID header is required",
    );
  }
  if (id.length > tenantIdLengthMax) {
    throw new KilnError(
      "invalid_argument",
      "invalid_tenant",
      `tenant id too long: ${id.length} characters, limit ${tenantIdLengthMax}`,
    );
  }
  if (!tenantIdPattern.test(id) || id === "." || id === "..") {
    throw new KilnError(
      "invalid_argument",
      "invalid_tenant",
      `tenant id ${JSON.stringify(id)} has characters outside [A-Za-z0-9!-_.*'()]`,
    );
  }
  return id;
}
