// The error table (core's codes and every registered plugin's) and its documentation stay in sync; the wire shape is
// OpenAI's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { E, GatewayError } from '../../src/errors.ts';
import { REGISTRY } from '../helpers/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error table', () => {
  it('holds core\'s codes and the plugins\' (auth, quota, moderation declare theirs)', () => {
    for (const code of Object.keys(E)) expect(REGISTRY.errors.get(code)?.owner).toBe('core');
    expect(REGISTRY.errors.get('GW_ERR_AUTH_INVALID')?.owner).toBe('plugin "auth"');
    expect(REGISTRY.errors.get('GW_ERR_RATE_LIMITED')?.owner).toBe('plugin "quota"');
    expect(REGISTRY.errors.get('GW_ERR_MODERATION_UNAVAILABLE')?.owner).toBe('plugin "moderation"');
  });

  it.each([...REGISTRY.errors.keys()].map((code) => ({ code })))('$code has a section in docs/errors.md', ({ code }) => {
    expect(doc).toContain(`\n## ${code}\n`);
  });

  it('fills %s placeholders in order and serialises in the OpenAI shape', () => {
    const e = new GatewayError(REGISTRY.errors.get('GW_ERR_RATE_LIMITED')!.def, ['user_requests', 12], { headers: { 'retry-after': '12' }, param: 'x' });
    expect(e.toJSON()).toEqual({ error: { message: 'rate limit "user_requests" exceeded: retry after 12 seconds', type: 'requests', param: 'x', code: 'rate_limit_exceeded' } });
    expect(e.status).toBe(429);
  });

  it('hides the message of errors that are not exposed', () => {
    const e = new GatewayError(E.GW_ERR_PLUGIN_FAILED, ['topics'], { cause: new Error('secret detail') });
    expect(JSON.stringify(e.toJSON())).not.toContain('topics');
    expect(JSON.stringify(e.toJSON())).not.toContain('secret');
  });
});
