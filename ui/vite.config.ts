/**
 * Vite build of the web UI: `ui/` is the root, the bundle goes to `ui/dist`, which the
 * server serves at `/` (src/api/static-ui.ts). JSX is compiled by Vite's built-in oxc
 * transform for Preact, so no framework plugin is needed.
 */
import { defineConfig } from "vite";

const uiRoot = new URL(".", import.meta.url).pathname;

export default defineConfig({
  root: uiRoot,
  base: "/",
  // Relative to the root: keeps `vite build` from any working directory writing to ui/dist.
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Hashed names: the server gives them a one-year immutable cache (static-ui.ts).
    assetsDir: "assets",
    rolldownOptions: {
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  logLevel: "warn",
});
