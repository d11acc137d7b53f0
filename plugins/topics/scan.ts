// Which request messages the topic matcher and the moderation classifier read (`scan user | last_user | all`), and
// the walk over their text (string content or text content parts). Shared by the topics and moderation plugins.
import type { ChatRequest } from '../../src/sdk/types.ts';

/** Scan modes, in the order the docs list them. */
export const SCAN_MODES = Object.freeze(['user', 'last_user', 'all'] as const);
/** Which messages are scanned: every user message (default), only the last one, or user + system + assistant. */
export type ScanMode = (typeof SCAN_MODES)[number];
/** The default scan mode. */
export const DEFAULT_SCAN: ScanMode = 'user';

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
export function visitScannedTexts(request: ChatRequest, mode: ScanMode, v: TextVisitor): void {
  const msgs = request.messages;
  if (!Array.isArray(msgs)) return;
  if (mode === 'last_user') {
    for (let i = msgs.length - 1; i >= 0; i--) {
      if (msgs[i]?.role === 'user') { visitContent(msgs[i]!.content, v); return; }
    }
    return;
  }
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m === undefined || m === null) continue;
    if (mode === 'user' ? m.role === 'user' : ALL_ROLES.has(m.role)) visitContent(m.content, v);
  }
}

/** The scanned text segments as an array (allocates; the moderation providers use it). */
export function scannedTexts(request: ChatRequest, mode: ScanMode): string[] {
  const out: string[] = [];
  visitScannedTexts(request, mode, { onText: (t) => { out.push(t); } });
  return out;
}
