/**
 * The time range: a button naming the range, opening relative presets (5m … 30d) and two
 * absolute date-time fields; plus a refresh button that re-runs the queries (relative ranges
 * move with "now").
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  absoluteSpec,
  describeRange,
  fromDateTimeLocal,
  RELATIVE_RANGES,
  resolveRange,
  type TimeRangeSpec,
  toDateTimeLocal,
} from "../../app/time-range.ts";

export function TimeRangePicker(props: {
  spec: TimeRangeSpec;
  onChange: (spec: TimeRangeSpec) => void;
  onRefresh?: () => void;
  /** Distinguishes several pickers on one page (comparison sides) in tests. */
  testId?: string;
}) {
  const [open, setOpen] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);
  const nowMs = Date.now();
  const range = resolveRange(props.spec, nowMs);
  const [fromText, setFromText] = useState(toDateTimeLocal(range.startMs));
  const [untilText, setUntilText] = useState(toDateTimeLocal(range.endMs));
  const [invalid, setInvalid] = useState(false);

  useEffect(() => {
    if (!open) return;
    const current = resolveRange(props.spec, Date.now());
    setFromText(toDateTimeLocal(current.startMs));
    setUntilText(toDateTimeLocal(current.endMs));
    setInvalid(false);
    // Closes on a click elsewhere or Escape.
    const onPointerDown = (event: PointerEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onPointerDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointerDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open, props.spec]);

  const choose = (spec: TimeRangeSpec) => {
    setOpen(false);
    props.onChange(spec);
  };

  const applyAbsolute = (event: Event) => {
    event.preventDefault();
    const startMs = fromDateTimeLocal(fromText);
    const endMs = fromDateTimeLocal(untilText);
    if (startMs === undefined || endMs === undefined || startMs >= endMs) {
      setInvalid(true);
      return;
    }
    choose(absoluteSpec({ startMs, endMs }));
  };

  return (
    <div class="time-range" ref={rootRef} data-testid={props.testId ?? "time-range"}>
      <button
        type="button"
        class="time-range-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        title="Time range"
      >
        <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.5" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.5" />
        </svg>{" "}
        <span data-testid="time-range-label">{describeRange(props.spec, nowMs)}</span>
      </button>
      {props.onRefresh === undefined ? null : (
        <button
          type="button"
          class="icon-button"
          onClick={props.onRefresh}
          title="Refresh"
          aria-label="Refresh"
        >
          ⟳
        </button>
      )}
      {open ? (
        <div class="popover time-range-popover" role="dialog" aria-label="Choose a time range">
          <ul class="time-range-presets">
            {RELATIVE_RANGES.map((preset) => (
              <li key={preset.from}>
                <button
                  type="button"
                  class={props.spec.from === preset.from && props.spec.until === "now" ? "selected" : ""}
                  onClick={() => choose({ from: preset.from, until: "now" })}
                >
                  {preset.label}
                </button>
              </li>
            ))}
          </ul>
          <form class="time-range-absolute" onSubmit={applyAbsolute}>
            <DateTimeField label="From" value={fromText} onInput={setFromText} />
            <DateTimeField label="Until" value={untilText} onInput={setUntilText} />
            {invalid ? <p class="field-error">"From" must be before "Until".</p> : null}
            <button type="submit">Apply range</button>
          </form>
        </div>
      ) : null}
    </div>
  );
}

/** A labelled local date-time input; `onInput` gets its text as typed. */
function DateTimeField(props: { label: string; value: string; onInput: (text: string) => void }) {
  return (
    <label>
      {props.label}
      <input
        type="datetime-local"
        value={props.value}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </label>
  );
}
