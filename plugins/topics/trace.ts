// The topics plugin's evaluation-trace step (recorded only when a request is traced): each allow/deny entry that
// matched, with its phrase as written, its source line and the span of prompt text it matched (item and offsets).
import type { RequestContext } from '../../src/sdk/context.ts';
import type { PromptSegment } from '../../src/sdk/prompt-view.ts';
import { traceText, type TraceRecorder, type TraceSpan } from '../../src/sdk/trace.ts';
import type { TopicsConfig } from './block.ts';
import type { TopicMatcher } from './matcher.ts';
import { visitScannedTexts } from './scan.ts';

/** Hits located per request at most (the others are listed without a span). */
const MAX_LOCATED = 32;
/** Texts longer than this are not searched for spans (the hit is listed without one). */
const MAX_LOCATE_CHARS = 20_000;
/** Characters the span search may run the matcher over per request (later hits are listed without a span). */
const LOCATE_BUDGET = 2_000_000;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/** Characters matched so far by the span search of the current trace (reset per traceTopics; scans are synchronous). */
let spent = 0;

function hitsEntry(m: TopicMatcher, text: string, entry: number): boolean {
  spent += text.length;
  const h = m.matchText(text);
  return h.allow.includes(entry) || h.deny.includes(entry);
}

/** The smallest index in [lo, hi] for which `ok` holds, assuming it holds at `hi` and is monotone; hi when unsure. */
function firstTrue(lo: number, hi: number, ok: (i: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid; else lo = mid + 1;
  }
  return hi;
}

/**
 * Where `entry` matches in `text`: the shortest whole-word window the matcher still reports it in (the matcher
 * normalises text, so the span is found by asking it about word-aligned windows, never by re-implementing it).
 */
export function locateEntry(m: TopicMatcher, text: string, entry: number): { start: number; end: number } | undefined {
  if (text.length > MAX_LOCATE_CHARS) return undefined;
  const starts: number[] = [];
  const ends: number[] = [];
  for (const w of text.matchAll(WORD)) { starts.push(w.index); ends.push(w.index + w[0].length); }
  if (ends.length === 0) return undefined;
  const last = ends.length - 1;
  if (!hitsEntry(m, text.slice(0, ends[last]), entry)) return { start: 0, end: text.length };
  const j = firstTrue(0, last, (k) => hitsEntry(m, text.slice(0, ends[k]), entry));
  const end = ends[j]!;
  // the latest start that still matches: search over reversed indices so "true" comes first
  const r = firstTrue(0, j, (k) => hitsEntry(m, text.slice(starts[j - k]!, end), entry));
  const start = starts[j - r]!;
  return hitsEntry(m, text.slice(start, end), entry) ? { start, end } : { start: 0, end };
}

/** The scanned segments of the request, in order, with the items they belong to. */
function scannedSegments(config: TopicsConfig, ctx: RequestContext): PromptSegment[] {
  const out: PromptSegment[] = [];
  const segs = ctx.prompt.segments;
  let k = 0;
  visitScannedTexts(ctx.prompt, config.scan, {
    onText(text) {
      while (k < segs.length && segs[k]!.text !== text) k++;
      if (k < segs.length) out.push(segs[k++]!);
    },
  }, config.scope);
  return out;
}

/** Records the `topics` step: the entries hit (allow and deny), each with its rule and the span it matched. */
export function traceTopics(config: TopicsConfig, ctx: RequestContext, trace: TraceRecorder): void {
  const m = config.matcher;
  const hits = m.matchPrompt(ctx.prompt, config.scan, config.scope);
  const hitEntries = [...hits.allow, ...hits.deny].sort((a, b) => a - b);
  const segments = hitEntries.length > 0 ? scannedSegments(config, ctx) : [];
  spent = 0;
  const listed = hitEntries.map((e, n) => {
    const entry = m.entries[e]!;
    let span: TraceSpan | null = null;
    if (n < MAX_LOCATED) {
      for (const seg of segments) {
        if (spent > LOCATE_BUDGET) break;
        if (!hitsEntry(m, seg.text, e)) continue;
        const at = locateEntry(m, seg.text, e);
        if (at !== undefined) span = { item: seg.item, start: at.start, end: at.end, text: traceText(seg.text.slice(at.start, at.end)) };
        break;
      }
    }
    return { list: entry.kind, phrase: entry.text, rule: entry.rule, span };
  });
  trace.add({
    plugin: 'topics', kind: 'topics', rule: config.scanRule, scan: config.scan, scope: config.scope,
    allowlist_configured: config.allowlistConfigured, entries: m.entries.length,
    allowlist_miss: config.allowlistConfigured && hits.allow.length === 0, hits: listed,
  });
}
