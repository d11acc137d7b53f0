// Parses a whole server-sent-events body the way a client does (WHATWG rules: `event:`/`data:` fields, multi-line data,
// comments, CRLF), so tests can assert on each event a gateway or fake upstream wrote, byte-level splits aside.

/** One dispatched event: its `event:` name (if any) and its data (lines joined with "\n"). */
export interface SseMessage {
  readonly event: string | undefined;
  readonly data: string;
}

/** Splits an SSE body into events; blocks without a `data:` field (comments, keep-alives) are skipped. */
export function parseSseText(text: string): SseMessage[] {
  const out: SseMessage[] = [];
  let event: string | undefined;
  let data: string[] = [];
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line === '') {
      if (data.length > 0) out.push({ event, data: data.join('\n') });
      event = undefined;
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length > 0) out.push({ event, data: data.join('\n') });
  return out;
}

/** The JSON payloads of an SSE body, `[DONE]` excluded; throws on a data field that is not JSON. */
export function sseJson(text: string): Record<string, any>[] {
  return parseSseText(text).filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as Record<string, any>);
}
