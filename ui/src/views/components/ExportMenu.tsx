/**
 * Export of what is on screen: the merged profile as pprof (SelectMergeProfile, gzipped in
 * the browser, for `go tool pprof` and IDEs), the flame graph data as JSON, and a PNG image
 * of the flame graph as focused and searched.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ProfileQuery } from "../../api/types.ts";
import { gzipBytes, saveBlob } from "../../app/download.ts";
import { queryClient } from "../../app/services.ts";
import type { Theme } from "../../app/theme.ts";
import { type FlameGraphData, type FlameViewState, flameGraphPng } from "../../flamegraph/index.ts";

const PNG_WIDTH_PX = 1600;

export function ExportMenu(props: {
  query: ProfileQuery;
  data: FlameGraphData | undefined;
  flame: FlameViewState;
  theme: Theme;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const rootRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onPointerDown = (event: PointerEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", onPointerDown);
    return () => document.removeEventListener("pointerdown", onPointerDown);
  }, [open]);

  const run = async (what: string, job: () => Promise<void>) => {
    setOpen(false);
    setBusy(what);
    setFailure(null);
    try {
      await job();
    } catch (err) {
      setFailure(`Export as ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(null);
    }
  };

  const exportPprof = () =>
    run("pprof", async () => {
      const pprof = await queryClient.selectMergeProfilePprof(props.query);
      saveBlob(await gzipBytes(pprof as Uint8Array<ArrayBuffer>), "profile.pb.gz");
    });
  const exportJson = () =>
    run("JSON", async () => {
      const json = JSON.stringify(props.data);
      saveBlob(new Blob([json], { type: "application/json" }), "flamegraph.json");
    });
  const exportPng = () =>
    run("PNG", async () => {
      const png = await flameGraphPng(props.data!, props.flame, {
        widthPx: PNG_WIDTH_PX,
        theme: props.theme,
      });
      saveBlob(png, "flamegraph.png");
    });

  const hasData = props.data !== undefined && props.data.total > 0;
  return (
    <div class="export-menu" ref={rootRef}>
      <button
        type="button"
        data-testid="export-button"
        aria-haspopup="menu"
        aria-expanded={open}
        disabled={!hasData || busy !== null}
        onClick={() => setOpen(!open)}
      >
        {busy === null ? "Export ▾" : `Exporting ${busy}…`}
      </button>
      {open ? (
        <div class="popover export-items" role="menu">
          <button type="button" role="menuitem" data-testid="export-pprof" onClick={exportPprof}>
            pprof (profile.pb.gz)
          </button>
          <button type="button" role="menuitem" data-testid="export-json" onClick={exportJson}>
            Flame graph JSON
          </button>
          <button type="button" role="menuitem" data-testid="export-png" onClick={exportPng}>
            PNG image
          </button>
        </div>
      ) : null}
      {failure === null ? null : (
        <p class="field-error" role="alert">
          {failure}
        </p>
      )}
    </div>
  );
}
