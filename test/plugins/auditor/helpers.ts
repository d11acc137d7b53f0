// Test helpers for the auditor: compile `audit` blocks from real .policy text, a logfmt parser that reads
// records back (to prove lines round-trip), and gateway services with an audit destination and record counter.
import { parsePolicy } from '../../../grammar/index.ts';
import type { Diagnostic } from '../../../grammar/diagnostics.ts';
import type { CompileEnv } from '../../../src/sdk/plugin.ts';
import type { GatewayServices } from '../../../src/sdk/context.ts';
import { AUDITOR_METRICS, auditorPlugin, type AuditConfig } from '../../../plugins/auditor/index.ts';
import { testServices } from '../../helpers/ctx.ts';

/** Compiles the audit blocks of `policy "p" { <body> }`; short diagnostics read `CODE severity line:col message`. */
export function compileAuditText(body: string, file = 'rules/audit.policy'): { config: AuditConfig | undefined; diagnostics: Diagnostic[]; short: string[] } {
  const { ast, diagnostics: parseDiags } = parsePolicy(`policy "p" {\n${body}\n}\n`, file);
  if (parseDiags.length > 0) throw new Error(`parse failed: ${parseDiags.map((d) => d.message).join('; ')}`);
  const blocks = ast.policies[0]!.blocks.filter((b) => auditorPlugin.blocks.includes(b.name));
  const diagnostics: Diagnostic[] = [];
  const env: CompileEnv = { policyId: 'p', file, dir: 'rules', report: (d) => { diagnostics.push(d); }, readText: () => undefined };
  const config = auditorPlugin.compile(blocks, env);
  return { config, diagnostics, short: diagnostics.map((d) => `${d.code} ${d.severity} ${d.span.start.line}:${d.span.start.col} ${d.message}`) };
}

/**
 * Parses one logfmt audit line back into `{ timestamp, key: value }`: unquoted `-` → null, quoted values unescaped.
 * Strict: throws on anything a logfmt reader would not accept, so a test can't pass on a malformed line.
 */
export function parseLogfmt(line: string): Record<string, string | null> {
  if (line.includes('\n')) throw new Error('a record spans several lines');
  const sp = line.indexOf(' ');
  const out: Record<string, string | null> = { timestamp: sp === -1 ? line : line.slice(0, sp) };
  let i = sp === -1 ? line.length : sp + 1;
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq === -1) throw new Error(`no "=" after position ${i}`);
    const key = line.slice(i, eq);
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new Error(`bad key "${key}"`);
    i = eq + 1;
    let value: string | null;
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error('unterminated quote');
        if (c === '"') { i++; break; }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') v += '\n'; else if (e === 'r') v += '\r'; else if (e === 't') v += '\t';
          else if (e === '"' || e === '\\') v += e;
          else if (e === 'u') { v += String.fromCharCode(parseInt(line.slice(i + 2, i + 6), 16)); i += 4; } else throw new Error(`bad escape \\${e}`);
          i += 2;
          continue;
        }
        v += c;
        i++;
      }
      value = v;
    } else {
      const end = line.indexOf(' ', i);
      const raw = line.slice(i, end === -1 ? line.length : end);
      if (/[="\\]/.test(raw)) throw new Error(`unquoted value with a special character: ${raw}`);
      i += raw.length;
      value = raw === '-' ? null : raw;
    }
    if (key in out) throw new Error(`key "${key}" twice`);
    out[key] = value;
    if (i < line.length) {
      if (line[i] !== ' ') throw new Error(`expected a space at ${i}`);
      i++;
    }
  }
  return out;
}

/** Keys of a logfmt line in order (timestamp first). */
export function logfmtKeys(line: string): string[] {
  return Object.keys(parseLogfmt(line));
}

/** Gateway services writing audit records to `destination`, with a real `policy_gateway_audit_records_total` counter. */
export function auditServices(destination: string, format: 'logfmt' | 'json' = 'logfmt'):
  GatewayServices & { reopeners: (() => void)[]; closers: (() => unknown)[]; logs: string[]; recordsCounted: (result: string) => Promise<number> } {
  const base = testServices();
  const auditRecords = base.metricsOf(AUDITOR_METRICS).records as unknown as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> };
  const reopeners: (() => void)[] = [];
  return {
    ...base,
    audit: { destination, format },
    onReopen: (fn) => { reopeners.push(fn); },
    reopeners,
    recordsCounted: async (result: string) => (await auditRecords.get()).values.find((v) => v.labels.result === result)?.value ?? 0,
  };
}
