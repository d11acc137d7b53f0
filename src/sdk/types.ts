// Wire types the plugins see: the requests, answers and stream events of the OpenAI endpoints the gateway fronts (chat
// completions, Responses, embeddings, legacy completions), and the policy block. Loose on purpose: unknown fields pass
// through untouched.

/** The OpenAI endpoints the gateway fronts (`POST /v1/<path>` and `/policy/<path>`). */
export type Endpoint = 'chat' | 'responses' | 'embeddings' | 'completions';

/** Every endpoint, in the order the docs list them, with its path under the base URL. */
export const ENDPOINT_PATHS: Readonly<Record<Endpoint, string>> = Object.freeze({
  chat: '/chat/completions', responses: '/responses', embeddings: '/embeddings', completions: '/completions',
});

/** Every endpoint, in the order the docs list them. */
export const ENDPOINTS: readonly Endpoint[] = Object.freeze(Object.keys(ENDPOINT_PATHS) as Endpoint[]);

/**
 * A validated request of any endpoint with the `policy_*` fields already removed: `model` always, the rest as the
 * endpoint defines it (ChatRequest, ResponsesRequest, EmbeddingsRequest, CompletionsRequest; `ctx.endpoint` says which).
 */
export interface ApiRequest {
  model: string;
  stream?: boolean;
  [k: string]: unknown;
}

export interface ContentPart {
  type: string;
  text?: string;
  [k: string]: unknown;
}

export interface ToolCall {
  id?: string;
  type?: string;
  index?: number;
  function?: { name?: string; arguments?: string };
  [k: string]: unknown;
}

export interface ChatMessage {
  role: string;
  content: string | ContentPart[] | null;
  tool_calls?: ToolCall[];
  [k: string]: unknown;
}

/** A validated chat completion request with the `policy_*` fields already removed. */
export interface ChatRequest extends ApiRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream_options?: { include_usage?: boolean; [k: string]: unknown };
  [k: string]: unknown;
}

/** One input item of a Responses request: a message (`role` + `content`) or a typed item (`function_call_output`, …). */
export interface ResponseInputItem {
  type?: string;
  role?: string;
  content?: string | ContentPart[];
  [k: string]: unknown;
}

/** A validated Responses API request (`POST /v1/responses`). */
export interface ResponsesRequest extends ApiRequest {
  input?: string | ResponseInputItem[];
  instructions?: string | null;
  max_output_tokens?: number | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  [k: string]: unknown;
}

/** A validated embeddings request: `input` is a string, strings, token ids or arrays of token ids. */
export interface EmbeddingsRequest extends ApiRequest {
  input: string | string[] | number[] | number[][];
}

/** A validated legacy completions request: `prompt` as for embeddings' `input`, plus an optional `suffix`. */
export interface CompletionsRequest extends ApiRequest {
  prompt?: string | string[] | number[] | number[][] | null;
  suffix?: string | null;
  max_tokens?: number | null;
  n?: number | null;
  stream_options?: { include_usage?: boolean; [k: string]: unknown } | null;
}

/** Token usage, as every endpoint's is normalised for quota, metrics and audit (Responses' input/output tokens here). */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [k: string]: unknown;
}

export interface ChatChoice {
  index: number;
  message: ChatMessage;
  finish_reason: string | null;
  [k: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: Usage;
  policy?: PolicyBlock;
  [k: string]: unknown;
}

export interface ChunkChoice {
  index: number;
  delta: { role?: string; content?: string | null; tool_calls?: ToolCall[]; [k: string]: unknown };
  finish_reason: string | null;
  [k: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Usage | null;
  policy?: PolicyBlock;
  [k: string]: unknown;
}

/** A legacy completion (`object: "text_completion"`), whole or as one stream chunk. */
export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: TextChoice[];
  usage?: Usage | null;
  policy?: PolicyBlock;
  [k: string]: unknown;
}

export interface TextChoice {
  index: number;
  text: string;
  logprobs: unknown;
  finish_reason: string | null;
  [k: string]: unknown;
}

/** One output item of a Response: a `message` (content parts), `function_call`, `reasoning`, … */
export interface ResponseOutputItem {
  type: string;
  [k: string]: unknown;
}

/** A Responses API answer (`object: "response"`). */
export interface ResponseObject {
  id: string;
  object: 'response';
  status?: string;
  output: ResponseOutputItem[];
  usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number; [k: string]: unknown } | null;
  policy?: PolicyBlock;
  [k: string]: unknown;
}

/** One event of a streamed Response (`event: <type>` / `data: {type, sequence_number, …}`). */
export interface ResponseStreamEvent {
  type: string;
  sequence_number?: number;
  [k: string]: unknown;
}

/** An embeddings answer (`object: "list"` of embeddings). */
export interface EmbeddingList {
  object: 'list';
  data: unknown[];
  model: string;
  usage?: { prompt_tokens?: number; total_tokens?: number; [k: string]: unknown };
  policy?: PolicyBlock;
  [k: string]: unknown;
}

/** A non-streamed answer of any endpoint (`ctx.endpoint` says which). */
export type ApiAnswer = ChatCompletion | TextCompletion | ResponseObject | EmbeddingList;

/** One event of a streamed answer: a chat chunk, a legacy completion chunk, or a Responses event. */
export type StreamChunk = ChatCompletionChunk | TextCompletion | ResponseStreamEvent;

export type Decision = 'allow' | 'rewrite' | 'summary' | 'escalate' | 'refuse';
export type RolloutMode = 'enforced' | 'shadow';

/** The `policy` block on every answer (README, "HTTP contract"), field names exactly as in the integration contract. */
export interface PolicyBlock {
  policy_id: string;
  decision: Decision;
  effective_decision: Decision;
  reason_code: string;
  triggered_categories: readonly string[];
  allowlist_hits: readonly string[];
  denylist_hits: readonly string[];
  rollout_mode: RolloutMode;
  enforced: boolean;
  policy_target: string | null;
  policy_user: string | null;
  project_id: string | null;
}
