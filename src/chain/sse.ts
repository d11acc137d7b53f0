// SSE framing for upstream streams: bytes in (split anywhere, even inside a UTF-8 sequence or an event),
// whole events out. Plugins never see bytes; the server re-encodes only the events a plugin changed.

/** One server-sent event as received: its raw text (without the blank-line terminator) and its joined `data`. */
export interface SseEvent {
  readonly raw: string;
  /** The `data:` field lines joined by "\n", or null for events without data (comments, keep-alives). */
  readonly data: string | null;
}

/** Incremental SSE decoder. Call `push(bytes)` per network chunk and `end()` once; events arrive via `onEvent`. */
export class SseDecoder {
  #decoder = new TextDecoder('utf-8');
  #buf = '';
  /** The last chunk ended with CR: it may be the first half of a CRLF split across chunks. */
  #cr = false;
  readonly #onEvent: (ev: SseEvent) => void;

  constructor(onEvent: (ev: SseEvent) => void) {
    this.#onEvent = onEvent;
  }

  /** Feeds one network chunk; emits every event it completes. */
  push(bytes: Uint8Array): void {
    let text = this.#decoder.decode(bytes, { stream: true });
    if (this.#cr) { text = `\r${text}`; this.#cr = false; }
    if (text.includes('\r')) {
      // A trailing CR waits for the next chunk: CR, LF split over two chunks is one line break, not two.
      if (text.charCodeAt(text.length - 1) === 13) { this.#cr = true; text = text.slice(0, -1); }
      text = text.replace(/\r\n?/g, '\n');
    }
    this.#buf = this.#buf.length ? this.#buf + text : text;
    this.#drain();
  }

  /** Characters held for an event not complete yet (the server bounds it: an upstream could send one endless event). */
  get pending(): number {
    return this.#buf.length + (this.#cr ? 1 : 0);
  }

  /** Flushes a final event not followed by a blank line (servers that end with `data: …\n`). */
  end(): void {
    let rest = this.#decoder.decode();
    if (this.#cr) { rest = `\r${rest}`; this.#cr = false; }
    if (rest) this.#buf += rest.replace(/\r\n?/g, '\n');
    this.#drain();
    const tail = this.#buf.replace(/\n+$/, '');
    this.#buf = '';
    if (tail) this.#emit(tail);
  }

  #drain(): void {
    let start = 0;
    let idx: number;
    while ((idx = this.#buf.indexOf('\n\n', start)) !== -1) {
      if (idx > start) this.#emit(this.#buf.slice(start, idx));
      start = idx + 2;
    }
    if (start > 0) this.#buf = this.#buf.slice(start);
  }

  #emit(raw: string): void {
    // Fast path: the usual single `data: {...}` line.
    if (raw.startsWith('data:') && !raw.includes('\n')) {
      this.#onEvent({ raw, data: raw.charCodeAt(5) === 32 ? raw.slice(6) : raw.slice(5) });
      return;
    }
    let data: string | null = null;
    for (const line of raw.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === null ? v : `${data}\n${v}`;
    }
    this.#onEvent({ raw, data });
  }
}

/** Encodes one data-only event. */
export function sseData(json: string): string {
  return `data: ${json}\n\n`;
}

/** The terminator OpenAI-compatible streams end with. */
export const SSE_DONE = 'data: [DONE]\n\n';
