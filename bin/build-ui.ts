/**
 * Builds the web UI (ui/ → ui/dist) with Vite's JS API.
 *
 *   node bin/build-ui.ts              always build (npm run build:ui, npm's `prepare` after npm ci)
 *   node bin/build-ui.ts --if-stale   build only when ui/dist is missing or older than a UI source
 *                                     (npm's `prestart`, so `npm start` after a pull serves fresh UI)
 *
 * The staleness check walks the ui/ sources (a few dozen files) and compares modification
 * times with ui/dist/index.html, which Vite writes last; it takes milliseconds.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "..");
export const uiRoot = join(repoRoot, "ui");
export const uiDistDir = join(uiRoot, "dist");
const distIndex = join(uiDistDir, "index.html");
/** Folders under ui/ that are outputs or tooling, not sources of the bundle. */
const NOT_SOURCES: ReadonlySet<string> = new Set(["dist", "node_modules"]);
/** Bounds the walk, in case someone puts a large tree under ui/. */
const SOURCE_FILES_MAX = 10_000;

/** The newest modification time (ms) among the files the bundle is built from. */
function newestSourceMtimeMs(): number {
  let newestMs = 0;
  let seen = 0;
  const pending = [uiRoot];
  while (pending.length > 0 && seen < SOURCE_FILES_MAX) {
    const dir = pending.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!NOT_SOURCES.has(entry.name)) pending.push(join(dir, entry.name));
        continue;
      }
      seen++;
      newestMs = Math.max(newestMs, statSync(join(dir, entry.name)).mtimeMs);
    }
  }
  // A dependency upgrade (preact, uplot) changes the bundle too.
  const lockFile = join(repoRoot, "package-lock.json");
  if (existsSync(lockFile)) newestMs = Math.max(newestMs, statSync(lockFile).mtimeMs);
  return newestMs;
}

/** True when ui/dist is missing or older than one of its sources. */
export function uiDistIsStale(): boolean {
  if (!existsSync(distIndex)) return true;
  return statSync(distIndex).mtimeMs < newestSourceMtimeMs();
}

export async function buildUi(): Promise<void> {
  // Imported here: vite is a devDependency and only the build needs it.
  const { build } = await import("vite");
  await build({ configFile: join(uiRoot, "vite.config.ts"), logLevel: "warn" });
}

/** Builds when stale; returns whether it built. */
export async function ensureUiBuilt(): Promise<boolean> {
  if (!uiDistIsStale()) return false;
  await buildUi();
  return true;
}

if (import.meta.main) {
  const ifStale = process.argv.includes("--if-stale");
  const startMs = performance.now();
  let built = true;
  if (ifStale) built = await ensureUiBuilt();
  else await buildUi();
  if (built) {
    process.stderr.write(
      `kiln: built the web UI into ui/dist in ${Math.round(performance.now() - startMs)} ms\n`,
    );
  }
}
