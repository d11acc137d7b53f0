// Validates values against OpenAI's published OpenAPI schemas (test/fixtures/openai-openapi/schemas.json) with ajv in
// JSON Schema 2020-12 mode, so tests can check that what the gateway writes, and what it forwards upstream, is spec-valid.
// The spec mixes OpenAPI 3.0 and 3.1 idioms; adaptOpenAPISchemas() maps the few ajv cannot take as they are.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The schemas of the fixture the gateway reads or writes (the roots it was extracted from). */
export type OpenAISchemaName =
  | 'CreateChatCompletionRequest' | 'CreateChatCompletionResponse' | 'CreateChatCompletionStreamResponse'
  | 'CreateResponse' | 'Response' | 'ResponseStreamEvent'
  | 'CreateEmbeddingRequest' | 'CreateEmbeddingResponse'
  | 'CreateCompletionRequest' | 'CreateCompletionResponse'
  | 'ListModelsResponse' | 'Model' | 'Error' | 'ErrorResponse'
  | 'CreateCompletionStreamResponse';

/**
 * Schemas the spec lacks, derived from one it has (see load()). `CreateCompletionStreamResponse`: a legacy
 * `/v1/completions` stream chunk — the spec documents the stream only by example, with CreateCompletionResponse-shaped
 * chunks whose `finish_reason` is null until the last; so: CreateCompletionResponse with a nullable `finish_reason`.
 */
export const DERIVED_SCHEMAS = ['CreateCompletionStreamResponse'] as const;

/** Where the fixture came from (repository, path, commit, date, OpenAPI and API versions). */
export interface OpenAISpecSource {
  readonly repository: string; readonly path: string; readonly commit: string; readonly date: string;
  readonly openapi: string; readonly version: string;
}

/** The result of one validation: `errors` are readable lines (`/choices/0/message: must have required property 'refusal'`). */
export interface OpenAIValidation {
  readonly ok: boolean;
  readonly errors: readonly string[];
}

/** What adaptOpenAPISchemas() changed, by kind (each is a count of rewritten schema nodes). */
export interface OpenAPIAdaptations {
  /** `nullable: true` next to a `type`: `null` added to the type (and to `enum`, which OpenAPI 3.0 left implicit). */
  nullableTyped: number;
  /** `nullable: true` with no `type` (a `$ref`, `oneOf`, …): the schema becomes `anyOf: [schema, {type: null}]`. */
  nullableWrapped: number;
  /** `nullable: false`: removed (the default). */
  nullableFalse: number;
  /** A `discriminator` whose branches are objects each pinning the tag to its own values: a dispatch on the tag. */
  discriminatorDispatch: number;
  /** A `discriminator` over branches that leave the tag optional or shared: dropped (an annotation), the union stays. */
  discriminatorDropped: number;
  /** `oneOf` read as a union (`anyOf`): the spec's branches overlap, and its SDKs treat `oneOf` as `A | B`. */
  oneOfAsAnyOf: number;
  /** `$recursiveRef: "#"` (2019-09) inside a component with `$recursiveAnchor`: a plain `$ref` to that component. */
  recursiveRef: number;
}

const FIXTURE = new URL('../fixtures/openai-openapi/schemas.json', import.meta.url);
const BASE = 'https://policy-gateway.test/openai-openapi.json';
const PREFIX = '#/components/schemas/';

/** Keywords whose value is one subschema, a map of subschemas, or a list of subschemas (JSON Schema 2020-12). */
const ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'contentSchema'];
const MAP = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];
const LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];

/** Calls `visit` on every schema node under `schema` (children first), following only subschema keywords. */
function eachSchema(schema: Json, visit: (s: Obj) => void): void {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
  for (const k of ONE) if (k in schema) eachSchema(schema[k], visit);
  for (const k of MAP) if (schema[k] && typeof schema[k] === 'object') for (const v of Object.values(schema[k] as Obj)) eachSchema(v, visit);
  for (const k of LIST) if (Array.isArray(schema[k])) for (const v of schema[k] as Json[]) eachSchema(v, visit);
  visit(schema);
}

const isObj = (v: Json | undefined): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Returns a copy of an OpenAPI document's component schemas that ajv (2020-12 mode) validates with the meaning the
 * spec intends, and counts what it changed; the input is not modified. The rewrites are exactly those of
 * OpenAPIAdaptations; anything else the spec uses is standard JSON Schema and passes through untouched.
 */
export function adaptOpenAPISchemas(doc: Obj): { doc: Obj; adaptations: OpenAPIAdaptations } {
  const out = structuredClone(doc);
  const schemas = (out.components as Obj).schemas as Obj;
  const a: OpenAPIAdaptations = { nullableTyped: 0, nullableWrapped: 0, nullableFalse: 0, discriminatorDispatch: 0, discriminatorDropped: 0, oneOfAsAnyOf: 0, recursiveRef: 0 };

  // Pass 1: nullable and $recursiveRef, node by node (children first, so a wrapped child is already final).
  for (const [name, root] of Object.entries(schemas)) {
    eachSchema(root, (s) => {
      if (s.$recursiveRef !== undefined) {
        if (s.$recursiveRef !== '#' || !isObj(root) || root.$recursiveAnchor !== true) throw new Error(`unsupported $recursiveRef in ${name}`);
        delete s.$recursiveRef;
        s.$ref = PREFIX + name;
        a.recursiveRef++;
      }
      if (s.nullable === false) { delete s.nullable; a.nullableFalse++; }
      if (s.nullable !== true) return;
      delete s.nullable;
      if (typeof s.type === 'string') {
        s.type = [s.type, 'null'];
        if (Array.isArray(s.enum) && !s.enum.includes(null)) s.enum.push(null);
        a.nullableTyped++;
      } else if (Array.isArray(s.type)) {
        if (!s.type.includes('null')) s.type.push('null');
        if (Array.isArray(s.enum) && !s.enum.includes(null)) s.enum.push(null);
        a.nullableTyped++;
      } else {
        const inner: Obj = { ...s };
        for (const k of Object.keys(s)) delete s[k];
        s.anyOf = [inner, { type: 'null' }];
        a.nullableWrapped++;
      }
    });
    if (isObj(root)) delete root.$recursiveAnchor;
  }

  // Pass 2: discriminators. A union whose branches are objects that each pin the tag to their own values is rewritten
  // into a dispatch on the tag: `type: object`, the tag required and one of all values, and `if tag ∈ Vi then Bi` per
  // branch. For objects that accepts exactly what the `anyOf`/`oneOf` accepts, and a bad value reports the errors of
  // its own branch only (not 58 branches' worth). ajv's own `discriminator` option cannot be used: it needs `oneOf`
  // and the tag at the top of each branch, and the spec has `anyOf` unions and `allOf` branches.
  const before = structuredClone(schemas);
  const pinOf = (s: Json, tag: string, depth = 0): { values: string[] | null; required: boolean; object: boolean } | null => {
    const r = isObj(s) && typeof s.$ref === 'string' && s.$ref.startsWith(PREFIX) ? before[s.$ref.slice(PREFIX.length)] : s;
    if (!isObj(r) || depth > 8) return null;
    let values: string[] | null = null;
    let required = Array.isArray(r.required) && r.required.includes(tag);
    let object = r.type === 'object';
    const p = isObj(r.properties) ? r.properties[tag] : undefined;
    if (isObj(p)) {
      const v = p.const !== undefined ? [p.const] : Array.isArray(p.enum) ? p.enum : null;
      if (v && v.every((x) => typeof x === 'string')) values = v as string[];
    }
    for (const m of Array.isArray(r.allOf) ? r.allOf : []) {
      const q = pinOf(m, tag, depth + 1);
      if (!q) continue;
      if (q.values) values = values ? values.filter((x) => q.values!.includes(x)) : q.values;
      required ||= q.required;
      object ||= q.object;
    }
    return { values, required, object };
  };
  for (const root of Object.values(schemas)) {
    eachSchema(root, (s) => {
      if (!isObj(s.discriminator)) return;
      const tag = s.discriminator.propertyName;
      const branches = (s.oneOf ?? s.anyOf) as Json[] | undefined;
      delete s.discriminator;
      const pins = typeof tag === 'string' && Array.isArray(branches) && !(s.oneOf && s.anyOf) ? branches.map((b) => pinOf(b, tag)) : [];
      const all = new Set<string>();
      const usable = pins.length > 0 && pins.every((q) => q && q.values && q.values.length > 0 && q.required && q.object
        && q.values.every((v) => !all.has(v) && all.add(v)));
      if (!usable) { a.discriminatorDropped++; return; }
      const t = tag as string;
      delete s.oneOf;
      delete s.anyOf;
      s.allOf = [
        ...(Array.isArray(s.allOf) ? s.allOf : []),
        { type: 'object', required: [t], properties: { [t]: { enum: [...all] } } },
        ...branches!.map((b, i) => ({ if: { required: [t], properties: { [t]: { enum: pins[i]!.values } } }, then: b })),
      ];
      a.discriminatorDispatch++;
    });
  }
  // Pass 3: the spec writes its unions as `oneOf`, but its branches overlap (a `{role, content}` message is both an
  // EasyInputMessage and an InputMessage, so by JSON Schema's "exactly one" the commonest Responses input would be
  // invalid). OpenAI's SDK generators read `oneOf` as a union (`A | B`); so does this validator.
  for (const root of Object.values(schemas)) {
    eachSchema(root, (s) => {
      if (!Array.isArray(s.oneOf)) return;
      if (s.anyOf === undefined) s.anyOf = s.oneOf;
      else s.allOf = [...(Array.isArray(s.allOf) ? s.allOf : []), { anyOf: s.oneOf }];
      delete s.oneOf;
      a.oneOfAsAnyOf++;
    });
  }
  return { doc: out, adaptations: a };
}

/** Collects the `x-…` extension keywords used in schema positions (ajv's strict mode must be told they are annotations). */
function extensionKeywords(schemas: Obj): string[] {
  const found = new Set<string>();
  for (const root of Object.values(schemas)) eachSchema(root, (s) => { for (const k of Object.keys(s)) if (k.startsWith('x-')) found.add(k); });
  return [...found].sort();
}

let state: { ajv: Ajv2020; source: OpenAISpecSource; names: Set<string>; adaptations: OpenAPIAdaptations; cache: Map<string, ValidateFunction> } | undefined;

function load(): NonNullable<typeof state> {
  if (state) return state;
  const raw = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Obj;
  const { doc, adaptations } = adaptOpenAPISchemas(raw);
  const schemas = (doc.components as Obj).schemas as Obj;
  const chunk = structuredClone(schemas.CreateCompletionResponse) as Obj;
  const finish = (((chunk.properties as Obj).choices as Obj).items as Obj).properties as Obj;
  finish.finish_reason = { anyOf: [finish.finish_reason, { type: 'null' }] };
  schemas.CreateCompletionStreamResponse = chunk;
  const ajv = new Ajv2020({
    allErrors: true,         // every missing field at once, not the first
    strictSchema: true,      // an unknown keyword is an error, so a new spec idiom cannot be silently ignored
    strictTypes: false,      // the spec puts `properties` next to `allOf` without `type: object` (valid JSON Schema)
    strictTuples: false,
    strictRequired: false,   // `required` names properties that an `allOf` sibling defines
    allowUnionTypes: true,   // `type: [string, null]` after the nullable rewrite
  });
  // OpenAPI's keywords that are not JSON Schema: `components` (the container the `$ref`s point into), `example` (3.0
  // annotation) and the `x-…` extensions; `discriminator` is rewritten away; `xml`/`externalDocs` are not used here.
  ajv.addVocabulary(['components', 'example', ...extensionKeywords(schemas)]);
  formatsPlugin.default(ajv);
  // OpenAI's own format for Unix timestamps in seconds.
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: BASE, components: doc.components } as object);
  state = { ajv, source: raw['x-source'] as unknown as OpenAISpecSource, names: new Set(Object.keys(schemas)), adaptations, cache: new Map() };
  return state;
}

function validatorFor(name: string): ValidateFunction {
  const s = load();
  let v = s.cache.get(name);
  if (v) return v;
  if (!s.names.has(name)) throw new Error(`no schema "${name}" in the OpenAI fixture (regenerate it with npm run gen:openai-schemas)`);
  v = s.ajv.compile({ $ref: `${BASE}${PREFIX}${name}` });
  s.cache.set(name, v);
  return v;
}

/** Renders one ajv error as a line a reader can act on. */
function describe(e: ErrorObject): string {
  const at = e.instancePath || '(root)';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      return `${at}: must be one of ${allowed.slice(0, 12).join(', ')}${allowed.length > 12 ? `, … (${allowed.length} values)` : ''}`;
    }
    case 'const': return `${at}: must be ${JSON.stringify(p.allowedValue)}`;
    case 'additionalProperties': return `${at}: unexpected property '${String(p.additionalProperty)}'`;
    default: return `${at}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Validates `value` against the named component schema of the OpenAI spec fixture; never throws for a bad value.
 * Errors are de-duplicated readable lines, deepest first (the deepest is usually the cause; a union that failed as a
 * whole comes after its branches' reasons). Names outside the roots may be used too (`ChatCompletionResponseMessage`).
 */
export function validateOpenAI(name: OpenAISchemaName | (string & {}), value: unknown): OpenAIValidation {
  const v = validatorFor(name);
  if (v(value)) return { ok: true, errors: [] };
  // `if` errors only say "must match then schema": the branch's own errors say why.
  const errs = (v.errors ?? []).filter((e) => e.keyword !== 'if');
  errs.sort((x, y) => y.instancePath.split('/').length - x.instancePath.split('/').length);
  return { ok: false, errors: [...new Set(errs.map(describe))] };
}

/** Throws an Error listing every violation when `value` does not match the named schema; `what` names the value. */
export function assertOpenAI(name: OpenAISchemaName | (string & {}), value: unknown, what = 'value'): void {
  const r = validateOpenAI(name, value);
  if (!r.ok) throw new Error(`${what} is not a valid OpenAI ${name}:\n  ${r.errors.join('\n  ')}`);
}

/** Where the fixture came from (from the fixture itself; SOURCES.md says the same). */
export function openAISpecSource(): OpenAISpecSource {
  return load().source;
}

/** What the adaptation to ajv changed in the fixture (see OpenAPIAdaptations). */
export function openAIAdaptations(): OpenAPIAdaptations {
  return { ...load().adaptations };
}
