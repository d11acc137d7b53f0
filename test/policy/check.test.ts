// Core checks (src/policy/check.ts): ids, default marker, settings, unknown and repeated blocks.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../grammar/index.ts';
import { checkPolicies } from '../../src/policy/check.ts';

const KNOWN = ['auth', 'quota', 'topics', 'moderation', 'respond', 'redact', 'rollout', 'audit'];

function check(files: Record<string, string>, checkUnknownBlocks = true) {
  const asts = Object.entries(files).map(([f, t]) => {
    const r = parsePolicy(t, f);
    expect(r.diagnostics).toEqual([]);
    return r.ast;
  });
  return checkPolicies(asts, { knownBlocks: KNOWN, checkUnknownBlocks })
    .map((d) => `${d.span.file}:${d.span.start.line}:${d.span.start.col} ${d.code} ${d.message}${d.notes ? ' | ' + d.notes.join(' | ') : ''}`);
}

describe('core checks', () => {
  it.each([
    { note: 'a clean policy has no diagnostics', files: { 'a.policy': 'policy "a" { description "x"\ndefault\nauth { keys "k" }\nredact response { email }\nredact request { email } }' }, want: [] },
    { note: 'duplicate ids across files name the first definition', files: { 'a.policy': 'policy "x" {}', 'b.policy': 'policy "x" {}' },
      want: ['b.policy:1:8 POL0301 duplicate policy id "x" | first defined at a.policy:1:8'] },
    { note: 'duplicate ids in one file', files: { 'a.policy': 'policy "x" {}\npolicy "x" {}' },
      want: ['a.policy:2:8 POL0301 duplicate policy id "x" | first defined at a.policy:1:8'] },
    { note: 'invalid and empty ids', files: { 'a.policy': 'policy "a b" {}\npolicy "" {}' },
      want: [
        'a.policy:1:8 POL0307 invalid policy id "a b" | a policy id starts with a letter or digit, then letters, digits, ".", "_", ":" or "-" (at most 128)',
        'a.policy:2:8 POL0307 policy id is empty | a policy id starts with a letter or digit, then letters, digits, ".", "_", ":" or "-" (at most 128)',
      ] },
    { note: 'two default policies', files: { 'a.policy': 'policy "a" { default }', 'b.policy': 'policy "b" {\n  default\n}' },
      want: ['b.policy:2:3 POL0305 more than one default policy: "b" and "a" | "a" is marked default at a.policy:1:14 | mark exactly one policy "default"'] },
    { note: 'unknown block with did-you-mean', files: { 'a.policy': 'policy "a" { moderaton { x } }' },
      want: [`a.policy:1:14 POL0302 unknown block "moderaton" | did you mean "moderation"? | expected one of: ${KNOWN.map((k) => `"${k}"`).join(', ')}`] },
    { note: 'a block twice', files: { 'a.policy': 'policy "a" { audit { x }\naudit { y } }' },
      want: ['a.policy:2:1 POL0303 block "audit" given twice in policy "a" | first given at a.policy:1:14 | merge the two blocks into one'] },
    { note: 'a block with the same qualifiers twice', files: { 'a.policy': 'policy "a" { redact response { x }\nredact response { y } }' },
      want: ['a.policy:2:1 POL0303 block "redact response" given twice in policy "a" | first given at a.policy:1:14 | merge the two blocks into one'] },
    { note: 'unknown setting with did-you-mean', files: { 'a.policy': 'policy "a" { defualt }' },
      want: ['a.policy:1:14 POL0304 unknown policy setting "defualt" | did you mean "default"? | a policy holds the settings "description", "default", "routes", "stateless" and blocks such as auth { … }, quota { … }, topics { … }'] },
    { note: 'routes and stateless: every endpoint named once is clean', files: { 'a.policy': 'policy "a" {\n  routes chat, responses, embeddings, completions\n  stateless\n}\npolicy "b" { routes embeddings }' }, want: [] },
    { note: 'routes: an unknown endpoint with did-you-mean, and one named twice',
      files: { 'a.policy': 'policy "a" {\n  routes chat, respnses, chat\n}' },
      want: [
        'a.policy:2:16 POL0308 unknown endpoint "respnses" in routes | did you mean "responses"? | expected one of: "chat", "responses", "embeddings", "completions"',
        'a.policy:2:26 POL0309 endpoint "chat" named twice in routes',
      ] },
    { note: 'routes without endpoints, routes with a string, stateless with a value',
      files: { 'a.policy': 'policy "a" {\n  routes\n}\npolicy "b" {\n  routes "chat"\n  stateless on\n}' },
      want: [
        'a.policy:2:3 POL0306 setting "routes" takes a comma list of endpoints | write routes chat, responses, embeddings, completions (any of them)',
        'a.policy:5:10 POL0306 setting "routes" takes endpoint names as words, not "chat" | write chat (no quotes)',
        'a.policy:6:13 POL0306 setting "stateless" takes no value | write stateless on its own line',
      ] },
    { note: 'a block name used without a body', files: { 'a.policy': 'policy "a" { audit }' },
      want: ['a.policy:1:14 POL0304 unknown policy setting "audit" | "audit" is a block: write audit { … }'] },
    { note: 'a setting that is not a word', files: { 'a.policy': 'policy "a" { "x" }' },
      want: ['a.policy:1:14 POL0304 expected a setting or a block, found string "x" | a policy holds the settings "description", "default", "routes", "stateless" and blocks such as auth { … }, quota { … }, topics { … }'] },
    { note: 'malformed settings', files: { 'a.policy': 'policy "a" { description 5\ndefault yes\ndescription "again" }' },
      want: [
        'a.policy:1:26 POL0306 setting "description" takes one string | write description "what this policy is for"',
        'a.policy:2:9 POL0306 setting "default" takes no value | write default on its own line',
        'a.policy:3:1 POL0306 setting "description" given twice in policy "a" | first given at a.policy:1:14',
      ] },
    { note: 'a setting with a body', files: { 'a.policy': 'policy "a" { "d" { x }\n description "a" }' },
      want: ['a.policy:1:14 POL0304 expected a setting or a block, found string "d" | a policy holds the settings "description", "default", "routes", "stateless" and blocks such as auth { … }, quota { … }, topics { … }'] },
  ])('$note', ({ files, want }) => {
    expect(check(files as Record<string, string>)).toEqual(want);
  });

  it('can skip the unknown-block check (benchmarks without every plugin)', () => {
    expect(check({ 'a.policy': 'policy "a" { nope { x } }' }, false)).toEqual([]);
  });
});
