// Test helpers for the policy loader and store: throw-away policy directories.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fresh temp directory holding `files` (relative path → text); `cleanup` removes it. */
export function policyDir(files: Record<string, string>): { dir: string; write(rel: string, text: string): void; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pg-policy-'));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
