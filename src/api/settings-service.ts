/**
 * `settings.v1.SettingsService` (Get/Set/Delete): per-tenant key/value settings, which
 * Grafana's Profiles Drilldown uses to keep its plugin settings.
 *
 * Storage: one JSON file per tenant, `<dataDir>/settings/<tenant>.json`, replaced atomically
 * (write a temp file, fsync, rename, fsync the folder), with the tenant's settings kept in
 * memory after the first read. Tenant ids are validated (tenant.ts) to characters that are
 * safe in a file name. Writes of one tenant are serialized.
 *
 * Set semantics follow Pyroscope: `modifiedAt` 0 means "now"; a Set older than the stored
 * value of the same name is refused (failed_precondition), so a stale client cannot
 * overwrite a newer setting.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  DeleteSettingsResponseSchema,
  GetSettingsResponseSchema,
  SetSettingsResponseSchema,
  SettingSchema,
  SettingsService,
} from "../gen/settings/v1/setting_pb.js";
import { KilnError } from "../model/errors.ts";
import type { TenantOf } from "./querier-service.ts";

/** Bounds what one tenant can store. */
export const MAX_SETTINGS_PER_TENANT = 1000;
export const MAX_SETTING_NAME_BYTES = 1024;
export const MAX_SETTING_VALUE_BYTES = 1024 * 1024;

export interface StoredSetting {
  name: string;
  value: string;
  modifiedAt: number;
}

export class SettingsStore {
  readonly dir: string;
  readonly #cache = new Map<string, Map<string, StoredSetting>>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #now: () => number;

  constructor(dataDir: string, now: () => number = Date.now) {
    this.dir = join(dataDir, "settings");
    this.#now = now;
  }

  async get(tenant: string): Promise<StoredSetting[]> {
    const settings = await this.#load(tenant);
    return [...settings.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  set(tenant: string, name: string, value: string, modifiedAt: number): Promise<StoredSetting> {
    if (name === "") throw new KilnError("invalid_argument", "invalid_setting", "setting name is required");
    if (Buffer.byteLength(name) > MAX_SETTING_NAME_BYTES) {
      throw new KilnError(
        "invalid_argument",
        "invalid_setting",
        `setting name longer than ${MAX_SETTING_NAME_BYTES} bytes`,
      );
    }
    if (Buffer.byteLength(value) > MAX_SETTING_VALUE_BYTES) {
      throw new KilnError(
        "invalid_argument",
        "invalid_setting",
        `setting value longer than ${MAX_SETTING_VALUE_BYTES} bytes`,
      );
    }
    return this.#locked(tenant, async () => {
      const settings = await this.#load(tenant);
      const existing = settings.get(name);
      const at = modifiedAt > 0 ? modifiedAt : this.#now();
      if (existing !== undefined && existing.modifiedAt > at) {
        throw new KilnError(
          "failed_precondition",
          "stale_setting",
          `setting ${JSON.stringify(name)}: a newer update is already stored (modifiedAt ${existing.modifiedAt} > ${at})`,
        );
      }
      if (existing === undefined && settings.size >= MAX_SETTINGS_PER_TENANT) {
        throw new KilnError(
          "resource_exhausted",
          "too_many_settings",
          `at most ${MAX_SETTINGS_PER_TENANT} settings per tenant`,
        );
      }
      const next = new Map(settings);
      const stored = { name, value, modifiedAt: at };
      next.set(name, stored);
      await this.#write(tenant, next);
      this.#cache.set(tenant, next);
      return stored;
    });
  }

  delete(tenant: string, name: string): Promise<void> {
    return this.#locked(tenant, async () => {
      const settings = await this.#load(tenant);
      if (!settings.has(name)) return;
      const next = new Map(settings);
      next.delete(name);
      await this.#write(tenant, next);
      this.#cache.set(tenant, next);
    });
  }

  #locked<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(tenant) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.#locks.set(tenant, tail);
    void tail.then(() => {
      if (this.#locks.get(tenant) === tail) this.#locks.delete(tenant);
    });
    return run;
  }

  #file(tenant: string): string {
    return join(this.dir, `${tenant}.json`);
  }

  async #load(tenant: string): Promise<Map<string, StoredSetting>> {
    const cached = this.#cache.get(tenant);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = await fsp.readFile(this.#file(tenant), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      const empty = new Map<string, StoredSetting>();
      this.#cache.set(tenant, empty);
      return empty;
    }
    const parsed = JSON.parse(text) as { settings?: StoredSetting[] };
    const settings = new Map<string, StoredSetting>();
    for (const s of parsed.settings ?? []) {
      if (typeof s.name === "string" && typeof s.value === "string" && typeof s.modifiedAt === "number") {
        settings.set(s.name, { name: s.name, value: s.value, modifiedAt: s.modifiedAt });
      }
    }
    this.#cache.set(tenant, settings);
    return settings;
  }

  async #write(tenant: string, settings: Map<string, StoredSetting>): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const path = this.#file(tenant);
    const temp = join(this.dir, `.tmp-${tenant}-${randomBytes(6).toString("hex")}`);
    const body = JSON.stringify({ settings: [...settings.values()] });
    const handle = await fsp.open(temp, "w");
    try {
      await handle.writeFile(body, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fsp.rename(temp, path);
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
    const dir = await fsp.open(this.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

export function registerSettingsService(
  router: ConnectRouter,
  store: SettingsStore,
  tenantOf: TenantOf,
): void {
  const message = (s: StoredSetting) =>
    create(SettingSchema, { name: s.name, value: s.value, modifiedAt: BigInt(s.modifiedAt) });
  router.service(SettingsService, {
    async get(_req, context) {
      const settings = await store.get(tenantOf(context));
      return create(GetSettingsResponseSchema, { settings: settings.map(message) });
    },
    async set(req, context) {
      const tenant = tenantOf(context);
      const setting = req.setting;
      if (setting === undefined)
        throw new KilnError("invalid_argument", "invalid_setting", "setting is required");
      const stored = await store.set(tenant, setting.name, setting.value, Number(setting.modifiedAt));
      return create(SetSettingsResponseSchema, { setting: message(stored) });
    },
    async delete(req, context) {
      await store.delete(tenantOf(context), req.name);
      return create(DeleteSettingsResponseSchema);
    },
  });
}
