// Request validation and metadata reconciliation (DESIGN §2).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseChatRequest } from '../../src/http/parse-request.ts';
import { GatewayError } from '../../src/errors.ts';

const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const parse = (body: unknown, headers: Record<string, string> = {}) => parseChatRequest(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), headers);

describe('parseChatRequest', () => {
  it('strips every policy_* field and reports metadata', () => {
    const r = parse({ ...ok, policy_id: 'p', policy_user: 'u', policy_project_id: 'pr', policy_target: 't', temperature: 0.2 });
    expect(r).toMatchObject({ policyId: 'p', user: 'u', project: 'pr', target: 't', policyIdFrom: 'body' });
    expect(r.request).toEqual({ ...ok, temperature: 0.2 });
  });

  it('takes metadata from headers when the body has none, and accepts equal values in both', () => {
    const r = parse({ ...ok, policy_user: 'u' }, { 'x-policy-id': 'p', 'x-policy-user': 'u', 'x-policy-project': 'pr', 'x-policy-target': 't' });
    expect(r).toMatchObject({ policyId: 'p', user: 'u', project: 'pr', target: 't', policyIdFrom: 'header' });
  });

  it.each([
    { note: 'content parts are valid', body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:' } }] }] } },
    { note: 'an assistant tool call with null content is valid', body: { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: '1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', content: 'r', tool_call_id: '1' }] } },
  ])('$note', ({ body }) => {
    expect(() => parse(body)).not.toThrow();
  });

  it.each([
    { note: 'an empty messages array', body: { model: 'm', messages: [] }, code: 'GW_ERR_MESSAGES_INVALID' },
    { note: 'a content part without type', body: { model: 'm', messages: [{ role: 'user', content: [{ text: 'x' }] }] }, code: 'GW_ERR_MESSAGES_INVALID' },
    { note: 'a null message', body: { model: 'm', messages: [null] }, code: 'GW_ERR_MESSAGES_INVALID' },
    { note: 'a numeric model', body: { model: 5, messages: ok.messages }, code: 'GW_ERR_MODEL_MISSING' },
    { note: 'a non-string policy_user', body: { ...ok, policy_user: 5 }, code: 'GW_ERR_METADATA_INVALID' },
    { note: 'an overlong policy_target', body: { ...ok, policy_target: 'x'.repeat(300) }, code: 'GW_ERR_METADATA_INVALID' },
    { note: 'a header/body project conflict', body: { ...ok, policy_project_id: 'a' }, headers: { 'x-policy-project': 'b' }, code: 'GW_ERR_METADATA_CONFLICT' },
  ])('rejects $note', ({ body, headers, code }) => {
    expect(() => parse(body, headers)).toThrow(expect.objectContaining({ code }));
  });

  it('never throws anything but a GatewayError on arbitrary input (fuzz)', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.anything().map((v) => { try { return JSON.stringify(v) ?? ''; } catch { return ''; } })), (text) => {
      try { parse(text); } catch (e) { expect(e).toBeInstanceOf(GatewayError); }
    }), { numRuns: 2000 });
  });
});
