// The endpoint-neutral view of a request's prompt: the one reading of chat `messages`, Responses `instructions` and
// `input` items, embeddings `input` and completions `prompt` that topics, moderation, the quota estimate and the
// auditor's capture share, so a policy reads every endpoint the same way. Built once per request (`ctx.prompt`).
import { E, GatewayError } from '../errors.ts';
import type { ApiRequest, Endpoint } from './types.ts';

/**
 * What a segment's text is: `text` — content the topic and moderation scans read (subject to their `scan` roles);
 * `call` — a tool call's name or arguments (counted, never scanned); `name` — a chat message's `name`; `media` — a
 * content part that is not text (an image, a file, audio), as `[type]`: recorded by the auditor, neither scanned nor
 * counted.
 */
export type SegmentKind = 'text' | 'call' | 'name' | 'media';

/** One piece of readable text of the prompt, in request order. */
export interface PromptSegment {
  /** The item it belongs to (a chat message, a Responses input item, …): its role is `view.roles[item]`. */
  readonly item: number;
  readonly kind: SegmentKind;
  readonly text: string;
}

/**
 * Parts of a request whose text the gateway cannot read: Responses state kept by the upstream (`previous_response_id`,
 * `conversation`, `item_reference` input items, stored `prompt` templates) and token ids sent instead of text
 * (`token_ids`, embeddings and completions).
 */
export type HiddenInput = 'previous_response_id' | 'conversation' | 'item_reference' | 'prompt' | 'token_ids';

/**
 * A request's prompt as every plugin reads it. Items are chat messages; for Responses, `instructions` (role `system`)
 * then the input (a string is one `user` item; message items keep their role; `function_call` items are `assistant`
 * calls, `*_output` items `tool` results, `reasoning` items `assistant` text); for embeddings and completions, all the
 * inputs (prompts and `suffix`) are one `user` item. Roles: `user`, `system`, `developer`, `assistant`, `tool`
 * (tool results: never scanned, as for chat), `reference` (an item the gateway cannot read). Frozen.
 */
export interface PromptView {
  readonly endpoint: Endpoint;
  /** The role of each item, in request order. */
  readonly roles: readonly string[];
  /** Every readable text, in request order (empty texts left out). */
  readonly segments: readonly PromptSegment[];
  /** Token ids sent instead of text (embeddings and completions): the quota estimate counts them as tokens. */
  readonly tokenIds: number;
  /** What the gateway cannot read (empty for almost every request). */
  readonly hidden: readonly HiddenInput[];
  /**
   * The output cap the client asked for — chat `max_completion_tokens` or `max_tokens`, Responses `max_output_tokens`,
   * completions `max_tokens` — or null when none; 0 for embeddings, which produce no text.
   */
  readonly maxOutputTokens: number | null;
  /** Answers the request asks for: chat `n`, completions prompts × `n`, 1 for Responses, 0 for embeddings. */
  readonly choices: number;
}

/** Bound on `n` read from a request (OpenAI's own maximum). */
const MAX_N = 128;
const NO_HIDDEN: readonly HiddenInput[] = Object.freeze([]);

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Collects items and segments while a request is read. */
class ViewBuilder {
  readonly roles: string[] = [];
  readonly segments: PromptSegment[] = [];
  tokenIds = 0;
  hidden: HiddenInput[] | undefined;

  item(role: string): number {
    this.roles.push(role);
    return this.roles.length - 1;
  }

  add(item: number, kind: SegmentKind, text: unknown): void {
    if (typeof text === 'string' && text.length > 0) this.segments.push({ item, kind, text });
  }

  hide(h: HiddenInput): void {
    if (!(this.hidden ??= []).includes(h)) this.hidden.push(h);
  }

  /** Text content parts: `text` (chat), `input_text` / `output_text` (Responses), and Responses `refusal` parts. */
  parts(item: number, content: unknown): void {
    if (typeof content === 'string') { this.add(item, 'text', content); return; }
    if (!Array.isArray(content)) return;
    for (const p of content as unknown[]) {
      if (!isRec(p)) continue;
      const t = p.type;
      if (t === 'text' || t === 'input_text' || t === 'output_text') this.add(item, 'text', p.text);
      else if (t === 'refusal') this.add(item, 'text', p.refusal);
      else this.add(item, 'media', `[${String(t)}]`);
    }
  }

  /** Embeddings `input` / completions `prompt`: a string, strings, token ids or arrays of token ids. */
  inputs(item: number, v: unknown): void {
    if (typeof v === 'string') { this.add(item, 'text', v); return; }
    if (!Array.isArray(v)) return;
    for (const x of v as unknown[]) {
      if (typeof x === 'string') this.add(item, 'text', x);
      else if (typeof x === 'number') this.tokenIds++;
      else if (Array.isArray(x)) this.tokenIds += x.length;
    }
    if (this.tokenIds > 0) this.hide('token_ids');
  }

  view(endpoint: Endpoint, maxOutputTokens: number | null, choices: number): PromptView {
    return Object.freeze({
      endpoint, roles: this.roles, segments: this.segments, tokenIds: this.tokenIds,
      hidden: this.hidden ?? NO_HIDDEN, maxOutputTokens, choices,
    });
  }
}

function readChat(b: ViewBuilder, req: Rec): void {
  const msgs = req.messages;
  if (!Array.isArray(msgs)) return;
  for (const m of msgs as unknown[]) {
    if (!isRec(m)) { b.item('unknown'); continue; }
    const i = b.item(typeof m.role === 'string' ? m.role : 'unknown');
    b.parts(i, m.content);
    b.add(i, 'name', m.name);
    if (Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls as unknown[]) {
        const fn = isRec(tc) ? tc.function : undefined;
        if (isRec(fn)) { b.add(i, 'call', fn.name); b.add(i, 'call', fn.arguments); }
      }
    }
    const legacy = m.function_call;
    if (isRec(legacy)) { b.add(i, 'call', legacy.name); b.add(i, 'call', legacy.arguments); }
  }
}

/** One Responses input item. */
function readResponseItem(b: ViewBuilder, it: unknown): void {
  if (!isRec(it)) { b.item('unknown'); return; }
  const type = typeof it.type === 'string' ? it.type : 'message';
  if (type === 'message') {
    const i = b.item(typeof it.role === 'string' ? it.role : 'user');
    b.parts(i, it.content);
    return;
  }
  if (type === 'item_reference') { b.item('reference'); b.hide('item_reference'); return; }
  if (type === 'reasoning') {
    const i = b.item('assistant');
    if (Array.isArray(it.summary)) for (const s of it.summary as unknown[]) if (isRec(s)) b.add(i, 'text', s.text);
    if (Array.isArray(it.content)) for (const c of it.content as unknown[]) if (isRec(c)) b.add(i, 'text', c.text);
    return;
  }
  if (type.endsWith('_output')) {
    // A tool's result (function_call_output, custom_tool_call_output, computer_call_output, …): a string or parts.
    const i = b.item('tool');
    b.parts(i, it.output);
    return;
  }
  // A call the model made earlier (function_call, custom_tool_call, web_search_call, …): its name and arguments.
  const i = b.item('assistant');
  b.add(i, 'call', it.name);
  b.add(i, 'call', it.arguments);
  b.add(i, 'call', it.input);
}

function readResponses(b: ViewBuilder, req: Rec): void {
  if (typeof req.instructions === 'string' && req.instructions.length > 0) b.add(b.item('system'), 'text', req.instructions);
  const input = req.input;
  if (typeof input === 'string') b.add(b.item('user'), 'text', input);
  else if (Array.isArray(input)) for (const it of input as unknown[]) readResponseItem(b, it);
  const prompt = req.prompt;
  if (isRec(prompt)) {
    // A stored prompt template: its text is the upstream's; the variables filled into it are the client's.
    b.hide('prompt');
    const vars = prompt.variables;
    if (isRec(vars)) {
      const i = b.item('user');
      for (const k in vars) {
        const v = vars[k];
        if (typeof v === 'string') b.add(i, 'text', v);
        else if (isRec(v) && v.type === 'input_text') b.add(i, 'text', v.text);
      }
    }
  }
  if (typeof req.previous_response_id === 'string' && req.previous_response_id.length > 0) b.hide('previous_response_id');
  if (req.conversation !== undefined && req.conversation !== null) b.hide('conversation');
}

/**
 * Reads the prompt of a validated request of `endpoint` (see PromptView). Pure; never throws, whatever the shape (the
 * edge validated the request; a shape it does not know reads as no text).
 */
export function readPrompt(endpoint: Endpoint, request: ApiRequest): PromptView {
  const b = new ViewBuilder();
  const req = request as Rec;
  switch (endpoint) {
    case 'chat': {
      readChat(b, req);
      const cap = positiveInt(req.max_completion_tokens) ?? positiveInt(req.max_tokens) ?? null;
      return b.view(endpoint, cap, Math.min(positiveInt(req.n) ?? 1, MAX_N));
    }
    case 'responses':
      readResponses(b, req);
      return b.view(endpoint, positiveInt(req.max_output_tokens) ?? null, 1);
    case 'embeddings':
      b.inputs(b.item('user'), req.input);
      return b.view(endpoint, 0, 0);
    case 'completions': {
      const i = b.item('user');
      b.inputs(i, req.prompt);
      b.add(i, 'text', req.suffix);
      const p = req.prompt;
      const prompts = Array.isArray(p) && p.length > 0 && typeof p[0] !== 'number' ? p.length : 1;
      return b.view(endpoint, positiveInt(req.max_tokens) ?? null, prompts * Math.min(positiveInt(req.n) ?? 1, MAX_N));
    }
  }
}

/**
 * The rejection a plugin that reads the prompt's text (topics, moderation) answers a request with when it sends token
 * ids instead of text (embeddings `input`, completions `prompt`): 400 GW_ERR_INPUT_UNREADABLE — the gateway has no
 * tokenizer, so token ids would be a way around every text rule. Undefined when the prompt is all text.
 */
export function unreadablePrompt(policyId: string, view: PromptView): { readonly kind: 'reject'; readonly error: GatewayError } | undefined {
  if (view.tokenIds === 0) return undefined;
  const field = view.endpoint === 'completions' ? 'prompt' : 'input';
  return { kind: 'reject', error: new GatewayError(E.GW_ERR_INPUT_UNREADABLE, [policyId, field], { param: field }) };
}
