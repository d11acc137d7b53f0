// Which request messages the topic matcher and the moderation classifier read (`scan user | last_user | all`), and
// the walk over their text (string content or text content parts). Shared by the topics and moderation plugins.
import type { ChatRequest } from '../../src/sdk/types.ts';

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

/** Receives each scanned text segment (one message's string content, or one text content part). */
export interface TextVisitor {
  onText(text: string): void;
}

/** Roles `scan all` reads (tool results and function messages are never scanned). */
const ALL_ROLES: ReadonlySet<string> = new Set(['user', 'system', 'developer', 'assistant']);

function visitContent(content: unknown, v: TextVisitor): void {
  if (typeof content === 'string') {
    if (content.length > 0) v.onText(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content as unknown[]) {
    if (part !== null && typeof part === 'object') {
      const p = part as { type?: unknown; text?: unknown };
      if (p.type === 'text' && typeof p.text === 'string' && p.text.length > 0) v.onText(p.text);
    }
  }
}

/**
 * Calls `v.onText` for each text segment of the messages `mode` selects, in message order. Each segment is
 * matched on its own: a phrase never spans two messages or two content parts. No allocation.
 */
export function visitScannedTexts(request: ChatRequest, mode: ScanMode, v: TextVisitor, scope: Scope = 'conversation'): void {
  const msgs = request.messages;
  if (!Array.isArray(msgs)) return;
  if (mode === 'last_user') {
    for (let i = msgs.length - 1; i >= 0; i--) {
      if (msgs[i]?.role === 'user') { visitContent(msgs[i]!.content, v); return; }
    }
    return;
  }
  let from = 0;
  if (scope === 'latest') {
    // the last user message, then back over the messages of the same turn (anything but assistant and tool output)
    let last = msgs.length - 1;
    while (last >= 0 && msgs[last]?.role !== 'user') last--;
    if (last < 0) return;
    from = last;
    while (from > 0) {
      const r = msgs[from - 1]?.role;
      if (r === 'assistant' || r === 'tool' || r === 'function') break;
      from--;
    }
    for (let i = from; i <= last; i++) {
      const m = msgs[i];
      if (m !== undefined && m !== null && (mode === 'user' ? m.role === 'user' : ALL_ROLES.has(m.role))) visitContent(m.content, v);
    }
    return;
  }
  for (let i = from; i < msgs.length; i++) {
    const m = msgs[i];
    if (m === undefined || m === null) continue;
    if (mode === 'user' ? m.role === 'user' : ALL_ROLES.has(m.role)) visitContent(m.content, v);
  }
}

/** The scanned text segments as an array (allocates; the moderation providers use it). */
export function scannedTexts(request: ChatRequest, mode: ScanMode, scope: Scope = 'conversation'): string[] {
  const out: string[] = [];
  visitScannedTexts(request, mode, { onText: (t) => { out.push(t); } }, scope);
  return out;
}
