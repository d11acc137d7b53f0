// Which items of a request's prompt the topic matcher and the moderation classifier read (`scan user | last_user |
// all`, `scope latest | conversation`), and the walk over their text. Shared by the topics and moderation plugins.
import type { PromptView } from '../sdk/prompt-view.ts';

/** Scan modes, in the order the docs list them. */
export const SCAN_MODES = Object.freeze(['user', 'last_user', 'all'] as const);
/** Which messages are scanned: every user message (default), only the last one, or user + system + assistant. */
export type ScanMode = (typeof SCAN_MODES)[number];
/** The default scan mode. */
export const DEFAULT_SCAN: ScanMode = 'user';

/** Scopes, in the order the docs list them. */
export const SCOPES = Object.freeze(['latest', 'conversation'] as const);
/**
 * Which turns are scanned: `latest` — the last user turn (the last user message and the user messages right before
 * it, plus system/developer messages between the last assistant message and it under `scan all`); `conversation` —
 * every message of the request.
 */
export type Scope = (typeof SCOPES)[number];
/** The default scope: the latest turn, so that a refused turn kept in the history does not refuse every later one. */
export const DEFAULT_SCOPE: Scope = 'latest';

/**
 * Receives each scanned text segment (one message's string content, or one text content part) with its index in
 * `view.segments` (the key of its word tape, src/text/word-tape.ts).
 */
export interface TextVisitor {
  onText(text: string, segment: number): void;
}

/** Roles `scan all` reads (tool results and function messages are never scanned). */
const ALL_ROLES: ReadonlySet<string> = new Set(['user', 'system', 'developer', 'assistant']);

/**
 * Calls `v.onText` for each text segment of the items `mode` selects, in request order: chat messages, Responses input
 * items and instructions, embeddings and completions inputs alike (the prompt view, src/sdk/prompt-view.ts). Each
 * segment is matched on its own: a phrase never spans two messages or two content parts. Tool calls and tool results
 * are never scanned. No allocation.
 */
export function visitScannedTexts(view: PromptView, mode: ScanMode, v: TextVisitor, scope: Scope = 'conversation'): void {
  const roles = view.roles;
  const segs = view.segments;
  let from = 0;
  let to = roles.length - 1;
  if (mode === 'last_user' || scope === 'latest') {
    let last = roles.length - 1;
    while (last >= 0 && roles[last] !== 'user') last--;
    if (last < 0) return;
    from = to = last;
    // latest: back over the items of the same turn (anything but assistant output and tool results)
    if (mode !== 'last_user') {
      while (from > 0) {
        const r = roles[from - 1];
        if (r === 'assistant' || r === 'tool' || r === 'function') break;
        from--;
      }
    }
  }
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k]!;
    if (s.item < from || s.item > to || s.kind !== 'text') continue;
    const role = roles[s.item]!;
    if (mode === 'all' ? ALL_ROLES.has(role) : role === 'user') v.onText(s.text, k);
  }
}

/** The scanned text segments as an array (allocates; the moderation providers use it). */
export function scannedTexts(view: PromptView, mode: ScanMode, scope: Scope = 'conversation'): string[] {
  const out: string[] = [];
  visitScannedTexts(view, mode, { onText: (t) => { out.push(t); } }, scope);
  return out;
}
