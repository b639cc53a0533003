/**
 * The label selector field with autocomplete: typing a label name after `{` or `,` suggests
 * label names (LabelNames), typing inside a value's quotes suggests that label's values
 * (LabelValues), both for the current service and time range. Enter runs the query; with a
 * suggestion highlighted, Enter or Tab inserts it.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  applyCompletion,
  type CompletionContext,
  completionContextAt,
  parseSelector,
} from "../../app/selector.ts";

const SUGGESTIONS_MAX = 50;

export interface SuggestionSource {
  /** Changes when the scope (service, time range) changes: cached suggestions are dropped. */
  scopeKey: string;
  labelNames(signal: AbortSignal): Promise<string[]>;
  labelValues(name: string, signal: AbortSignal): Promise<string[]>;
}

export function LabelSelectorInput(props: {
  value: string;
  onSubmit: (selector: string) => void;
  source: SuggestionSource;
  testId?: string;
}) {
  const [draft, setDraft] = useState(props.value);
  const [cursor, setCursor] = useState(0);
  const [focused, setFocused] = useState(false);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [active, setActive] = useState(-1);
  const [syntaxError, setSyntaxError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  /** Where the caret goes once an accepted completion is in the field (setting value moves it to the end). */
  const caretAfterRender = useRef<number | null>(null);
  const cache = useMemo(() => new Map<string, Promise<string[]>>(), [props.source.scopeKey]);

  // A new committed value (URL change, Back) replaces the draft.
  useEffect(() => {
    setDraft(props.value);
    setSyntaxError(null);
  }, [props.value]);

  const context: CompletionContext = focused ? completionContextAt(draft, cursor) : { kind: "none" };
  const contextKey =
    context.kind === "none" ? "" : context.kind === "name" ? "names" : `values:${context.name}`;
  const prefix = context.kind === "none" ? "" : context.prefix.toLowerCase();

  useEffect(() => {
    if (contextKey === "" || (context.kind === "value" && context.name === "")) {
      setSuggestions([]);
      return;
    }
    const controller = new AbortController();
    let pending = cache.get(contextKey);
    if (pending === undefined) {
      pending =
        context.kind === "name"
          ? props.source.labelNames(controller.signal)
          : props.source.labelValues((context as { name: string }).name, controller.signal);
      // A failed lookup is retried next time rather than cached.
      pending.catch(() => cache.delete(contextKey));
      cache.set(contextKey, pending);
    }
    pending.then(
      (all) => {
        if (controller.signal.aborted) return;
        const matching = all.filter((s) => s.toLowerCase().includes(prefix));
        // Prefix matches first, then the rest, each in their order.
        matching.sort(
          (a, b) => Number(!a.toLowerCase().startsWith(prefix)) - Number(!b.toLowerCase().startsWith(prefix)),
        );
        setSuggestions(matching.slice(0, SUGGESTIONS_MAX));
        setActive(-1);
      },
      () => setSuggestions([]),
    );
    // The cached promise is shared, so aborting only stops this effect from using it.
    return () => controller.abort();
  }, [contextKey, prefix, cache]);

  useLayoutEffect(() => {
    const caret = caretAfterRender.current;
    if (caret === null || inputRef.current === null) return;
    caretAfterRender.current = null;
    inputRef.current.setSelectionRange(caret, caret);
    inputRef.current.focus();
  }, [draft]);

  const syncCursor = () => setCursor(inputRef.current?.selectionStart ?? draft.length);

  const accept = (completion: string) => {
    if (context.kind === "none") return;
    const next = applyCompletion(draft, context, completion);
    caretAfterRender.current = next.cursor;
    setDraft(next.text);
    setCursor(next.cursor);
    setSuggestions([]);
  };

  const submit = () => {
    try {
      parseSelector(draft);
    } catch (err) {
      setSyntaxError((err as Error).message);
      return;
    }
    setSyntaxError(null);
    setSuggestions([]);
    props.onSubmit(draft.trim() === "" ? "{}" : draft.trim());
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const open = suggestions.length > 0;
    if (event.key === "ArrowDown" && open) {
      event.preventDefault();
      setActive((active + 1) % suggestions.length);
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      setActive(active <= 0 ? suggestions.length - 1 : active - 1);
    } else if ((event.key === "Enter" || event.key === "Tab") && open && active >= 0) {
      event.preventDefault();
      accept(suggestions[active]!);
    } else if (event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      setSuggestions([]);
    }
  };

  const listId = `${props.testId ?? "label-selector"}-suggestions`;
  return (
    <div class="label-selector">
      <div class="label-selector-row">
        <input
          ref={inputRef}
          class={`label-selector-input${syntaxError === null ? "" : " invalid"}`}
          data-testid={props.testId ?? "label-selector"}
          type="text"
          spellcheck={false}
          autocomplete="off"
          role="combobox"
          aria-expanded={suggestions.length > 0}
          aria-controls={listId}
          aria-label="Label selector"
          placeholder='{service_name="my-app", env="prod"}'
          value={draft}
          onInput={(e) => {
            setDraft((e.target as HTMLInputElement).value);
            syncCursor();
          }}
          onKeyDown={onKeyDown}
          onKeyUp={syncCursor}
          onClick={syncCursor}
          onFocus={() => {
            setFocused(true);
            syncCursor();
          }}
          onBlur={() => setFocused(false)}
        />
        <button type="button" onClick={submit}>
          Run query
        </button>
      </div>
      {syntaxError === null ? null : <p class="field-error">{syntaxError}</p>}
      {suggestions.length > 0 ? (
        <div class="suggestions popover" id={listId} role="listbox" data-testid="suggestions">
          {suggestions.map((s, i) => (
            <div
              key={s}
              role="option"
              tabIndex={-1}
              aria-selected={i === active}
              class={i === active ? "active" : ""}
              // mousedown, not click: it runs before the input's blur hides the list.
              onMouseDown={(e) => {
                e.preventDefault();
                accept(s);
              }}
            >
              {s === "" ? <em>(empty)</em> : s}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
