// The replay engine in-process: the gateway's own checks before the chain (a removed policy, routes narrowed, a
// stateless policy), the default policy for requests naming none, records naming unknown policies kept in one bucket,
// and a policy unchanged between the sides evaluated once.
import { describe, expect, it } from 'vitest';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { compileSources } from '../../src/policy/load.ts';
import type { CompiledPolicySet } from '../../src/policy/types.ts';
import { parseLine } from '../../src/replay/records.ts';
import { ReplayRun, UNKNOWN_POLICY } from '../../src/replay/replay.ts';

function rules(text: string): CompiledPolicySet {
  const r = compileSources(new Map([['rules/t.policy', text]]), ALL_PLUGINS);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.set!;
}

const OLD = rules(`policy "a" {
  default
  topics { deny "secret" }
  respond { when denylist refuse reason "NO"; otherwise allow }
}
policy "b" {
  respond { otherwise allow }
}
policy "r" {
  respond { otherwise allow }
}
`);
const NEW = rules(`policy "a" {
  routes chat, responses
  stateless
  topics { deny "secret" }
  respond { when denylist refuse reason "NO"; otherwise allow }
}
policy "r" {
  default
  respond { otherwise rewrite with "Be kind." }
}
`);

const line = (o: unknown): string => JSON.stringify(o);
const chat = (text: string, extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content: text }], ...extra });

async function replay(lines: string[], unchanged = new Set<string>()) {
  const run = new ReplayRun(OLD, NEW, ALL_PLUGINS, unchanged);
  const results = [];
  for (let i = 0; i < lines.length; i++) results.push(await run.add(parseLine(lines[i]!, i + 1), i + 1));
  return { results, summary: run.finish() };
}

describe('replay evaluation', () => {
  it('applies the gateway\'s checks before the chain: removed policy, routes, stateless, default policy', async () => {
    const { results } = await replay([
      line({ id: 'gone', policy: 'b', request: chat('hi') }),
      line({ id: 'routes', policy: 'a', endpoint: 'embeddings', request: { model: 'm', input: 'hi' } }),
      line({ id: 'stateless', policy: 'a', endpoint: 'responses', request: { model: 'm', input: 'hi', previous_response_id: 'resp_1' } }),
      line({ id: 'default', request: chat('hi') }),
      line({ id: 'secret', policy: 'a', request: chat('a secret') }),
    ]);
    const got = Object.fromEntries(results.map((r) => [r!.item.id, [r!.policy, r!.old, r!.new]]));
    expect(got.gone).toEqual(['b', { decision: 'allow', effective: 'allow', reason: 'ALLOW' }, { decision: 'reject', effective: 'reject', reason: 'NOT_FOUND' }]);
    expect(got.routes![2]).toEqual({ decision: 'reject', effective: 'reject', reason: 'NOT_FOUND' });
    expect(got.routes![1]).toEqual({ decision: 'allow', effective: 'allow', reason: 'ALLOW' });
    expect(got.stateless![2]).toEqual({ decision: 'reject', effective: 'reject', reason: 'INVALID_REQUEST' });
    // A request naming no policy runs under each side's default: a under the old rules, r under the new.
    expect(got.default).toEqual(['r', { decision: 'allow', effective: 'allow', reason: 'ALLOW' }, { decision: 'rewrite', effective: 'rewrite', reason: 'REWRITE' }]);
    expect(got.secret!.slice(1)).toEqual([{ decision: 'refuse', effective: 'refuse', reason: 'NO' }, { decision: 'refuse', effective: 'refuse', reason: 'NO' }]);
  });

  it('records naming policies neither side has share one bucket (the report stays bounded)', async () => {
    const { summary } = await replay(Array.from({ length: 50 }, (_, i) => line({ id: `x${i}`, policy: `nope-${i}`, request: chat('hi') })));
    expect(summary.buckets).toHaveLength(1);
    expect(summary.buckets[0]).toMatchObject({ policy: UNKNOWN_POLICY, count: 50, changed: false, examples: ['x0', 'x1', 'x2'] });
  });

  it('a policy declared unchanged is evaluated once: its old result stands for the new', async () => {
    // Declared unchanged although it is not: the new side is not evaluated, which shows the shortcut is taken.
    const lines = [line({ id: 's', policy: 'a', request: chat('a secret') }), line({ id: 'e', policy: 'a', endpoint: 'embeddings', request: { model: 'm', input: 'hi' } })];
    const honest = await replay(lines);
    const shortcut = await replay(lines, new Set(['a']));
    expect(honest.summary.changed).toBe(1);
    expect(shortcut.summary.changed).toBe(0);
  });
});
