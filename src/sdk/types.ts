// Wire types the plugins see: OpenAI chat completion requests, responses and stream chunks, and the policy block.
// Loose on purpose: unknown fields pass through untouched.

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
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream_options?: { include_usage?: boolean; [k: string]: unknown };
  [k: string]: unknown;
}

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

export type Decision = 'allow' | 'rewrite' | 'summary' | 'escalate' | 'refuse';
export type RolloutMode = 'enforced' | 'shadow';

/** The `policy` block on every answer (DESIGN §2), field names exactly as in the integration contract. */
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
