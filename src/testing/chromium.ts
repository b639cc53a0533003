/**
 * Launching Debian's Chromium with playwright-core, for the web UI's end-to-end tests and the
 * UI render bench: the same binary and flags in both (dependencies-tried §9: headless in a
 * container, no sandbox, no background traffic).
 */
import type { Browser } from "playwright-core";

export const chromiumPath: string = process.env.KILN_CHROMIUM ?? "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Starts headless Chromium (playwright-core is loaded on first use). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}
