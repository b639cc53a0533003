/**
 * Browser harness for the web UI's end-to-end tests: Debian's Chromium driven by
 * playwright-core (no downloaded browsers), and a fresh ui/dist for the server to serve.
 *
 * Chromium is installed by .ci/run. On a developer machine without it the tests skip with a
 * reason; under CI (CI=true) a missing Chromium is a failure, like a missing testdata folder.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { ensureUiBuilt } from "../../bin/build-ui.ts";
import { chromiumPath, launchChromium } from "../../src/testing/chromium.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

/** Where the e2e tests save a screenshot of each view (gitignored). */
export const screenshotDir: string = join(repoRoot, "test-output", "ui");

/** Pass `skip` to node:test: false when Chromium is there, else the reason. Throws under CI. */
export function chromiumAvailability(): { skip: string | false } {
  if (existsSync(chromiumPath)) return { skip: false };
  if (process.env.CI)
    throw new Error(`CI is set but Chromium is missing at ${chromiumPath} (.ci/run installs it)`);
  return { skip: `Chromium not found at ${chromiumPath} (apt-get install chromium, or set KILN_CHROMIUM)` };
}

export async function launchBrowser(): Promise<Browser> {
  return launchChromium();
}

/**
 * Builds ui/dist when it is missing or older than its sources, so the server under test
 * serves the UI as it is in the working tree. Returns whether it built.
 */
export async function prepareUi(): Promise<boolean> {
  return ensureUiBuilt();
}

export function screenshotPath(name: string): string {
  mkdirSync(screenshotDir, { recursive: true });
  return join(screenshotDir, `${name}.png`);
}
