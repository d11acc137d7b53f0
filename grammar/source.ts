// Source text helpers shared by every grammar stage: offset → line/column, line text, spans.
// Line terminators are "\r\n", "\n" and a lone "\r" (the same set the lexer's newline token uses).
import type { Pos, Span } from './ast.ts';

/** One source file's text with a precomputed line table; offset → position lookups are O(log lines). */
export class SourceText {
  readonly file: string;
  readonly text: string;
  /** Offset of the first character of each line (line 1 at index 0). */
  readonly #lineStarts: number[];

  constructor(text: string, file: string) {
    this.file = file;
    this.text = text;
    this.#lineStarts = lineStarts(text);
  }

  /** Number of lines (an empty file has one empty line). */
  get lineCount(): number {
    return this.#lineStarts.length;
  }

  /** The position of a 0-based offset, clamped to `[0, text.length]`. */
  pos(offset: number): Pos {
    const o = Number.isFinite(offset) ? Math.max(0, Math.min(this.text.length, Math.trunc(offset))) : this.text.length;
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - starts[lo]! + 1, offset: o };
  }

  /** A span `[start, end)` from 0-based offsets; `end` is clamped to be at least `start`. */
  span(start: number, end: number): Span {
    const s = this.pos(start);
    const e = end >= s.offset ? this.pos(end) : s;
    return { file: this.file, start: s, end: e };
  }

  /** The text of a 1-based line without its terminator ('' past the end). */
  line(line: number): string {
    return lineOf(this.text, this.#lineStarts, line);
  }
}

/** Offsets where each line starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    }
  }
  return starts;
}

function lineOf(text: string, starts: readonly number[], line: number): string {
  if (line < 1 || line > starts.length) return '';
  const s = starts[line - 1]!;
  let e = line < starts.length ? starts[line]! : text.length;
  if (e > s && text.charCodeAt(e - 1) === 10) e--;
  if (e > s && text.charCodeAt(e - 1) === 13) e--;
  return text.slice(s, e);
}

/** `file:line:col` of a span's start. */
export function formatLocation(span: Span): string {
  return `${span.file}:${span.start.line}:${span.start.col}`;
}
