// Lint of the container build (Dockerfile + .dockerignore): a real Dockerfile linter (dockerfile-utils, the VS Code
// Docker language server's validator) plus the properties issue 20 asks for, and that every file the CLI imports at run
// time reaches the image and every package it imports is a production dependency. The image itself is built and run
// by `npm run test:container` (test/deploy/container-smoke.ts).
import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { ROOT } from '../helpers/gateway-process.ts';

const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string>;
};

const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR, directiveCasing: ValidationSeverity.ERROR, emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR, instructionCmdMultiple: ValidationSeverity.ERROR, instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR, instructionJSONInSingleQuotes: ValidationSeverity.ERROR, instructionWorkdirRelative: ValidationSeverity.ERROR,
};

interface Instr { readonly keyword: string; readonly args: string; readonly line: number }
/** The Dockerfile's stages: each FROM and the instructions up to the next one. */
function stages(text: string): { from: string; name: string | undefined; instrs: Instr[] }[] {
  const out: { from: string; name: string | undefined; instrs: Instr[] }[] = [];
  const lines = text.split('\n');
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    // The instruction's whole text, flags included (--from, --interval), continuations joined.
    const { start, end } = i.getRange();
    const raw = lines.slice(start.line, end.line + 1).join(' ').replace(/\\\s/g, ' ').replace(/\s+/g, ' ').trim();
    const instr = { keyword: i.getKeyword(), args: raw.slice(raw.indexOf(' ') + 1), line: start.line + 1 };
    if (instr.keyword === 'FROM') {
      const [from, as, name] = instr.args.split(' ');
      out.push({ from: from!, name: as?.toUpperCase() === 'AS' ? name : undefined, instrs: [] });
    } else out.at(-1)?.instrs.push(instr);
  }
  return out;
}
const STAGES = stages(DOCKERFILE);
const RUNTIME = STAGES.at(-1)!;
const one = (keyword: string): Instr[] => RUNTIME.instrs.filter((i) => i.keyword === keyword);
const jsonArgs = (i: Instr | undefined): string[] => JSON.parse(i?.args ?? 'null') as string[];

/** Docker's .dockerignore rule: the last pattern matching the path or one of its parent directories decides. */
function dockerIgnored(rel: string, patterns: readonly string[]): boolean {
  const toRe = (p: string) => new RegExp(`^${p.replace(/\/+$/, '').split('/').map((seg) => seg === '**' ? '(?:.*)' : seg
    .replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/').replace(/\(\?:\.\*\)\//g, '(?:.*/)?')}$`);
  const parts = rel.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const re = toRe(neg ? raw.slice(1) : raw);
    if (candidates.some((c) => re.test(c))) excluded = !neg;
  }
  return excluded;
}
const IGNORE = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

/** Every file reachable from `entry` through relative static/dynamic imports, and every bare package specifier. */
function importClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:^|[^\w.])(?:import|export)\s*(?:type\s)?[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
      if (/^\s*(?:import|export)\s+type\s/.test(m[0].trimStart())) continue;
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        if (!existsSync(target)) throw new Error(`${path.relative(ROOT, file)} imports missing ${spec}`);
        todo.push(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  }
  return { files, packages };
}

describe('Dockerfile', () => {
  it('passes the dockerfile-utils linter with every check at error level', () => {
    expect(validate(DOCKERFILE, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('the linter is live: it flags a broken variant of the same file', () => {
    const broken = `${DOCKERFILE}\nCMD ["serve"]\nworkdir app\nHEALTHCHECK CMD true\n`;
    expect(validate(broken, STRICT).length).toBeGreaterThanOrEqual(3);
  });

  it('is multi-stage on the Node 24 slim base, the major the repo pins', () => {
    expect(STAGES.length).toBeGreaterThanOrEqual(2);
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(DOCKERFILE)?.[1];
    expect(arg).toBe('node:24-slim');
    expect(PKG.devDependencies.node).toMatch(/^\^?24\./);
    for (const s of STAGES) expect(s.from).toBe('${NODE_IMAGE}');
  });

  it('installs only production dependencies, exactly from the lockfile, without install scripts', () => {
    const deps = STAGES.find((s) => s.name === 'deps')!;
    const run = deps.instrs.find((i) => i.keyword === 'RUN')!.args;
    expect(run).toMatch(/\bnpm ci\b/);
    expect(run).toContain('--omit=dev');
    expect(run).toContain('--ignore-scripts');
    expect(deps.instrs.find((i) => i.keyword === 'COPY')!.args).toBe('package.json package-lock.json ./');
    expect(one('COPY').some((c) => c.args.includes('node_modules') && !c.args.startsWith('--from=deps '))).toBe(false);
  });

  it('runs as the non-root node user, declared before the entry point', () => {
    const users = one('USER');
    expect(users.map((u) => u.args)).toEqual(['node']);
    expect(users[0]!.line).toBeLessThan(one('ENTRYPOINT')[0]!.line);
    // Sources and dependencies stay root-owned: the gateway cannot rewrite its own code.
    expect(one('COPY').some((c) => /--chown/.test(c.args))).toBe(false);
  });

  it('runs the CLI like `npm start`: node is PID 1 (exec form, no shell) and `serve` is the default command', () => {
    expect(PKG.scripts.start).toBe('node src/cli/main.ts serve');
    expect(jsonArgs(one('ENTRYPOINT')[0])).toEqual(['node', '/app/src/cli/main.ts']);
    expect(jsonArgs(one('CMD')[0])).toEqual(['serve']);
    expect(one('STOPSIGNAL').map((s) => s.args)).toEqual(['SIGTERM']);
  });

  it('listens on all interfaces on the port it exposes, and HEALTHCHECK probes /healthz there', () => {
    const env = one('ENV').map((e) => e.args).join(' ');
    expect(env).toContain('POLICY_GATEWAY_HOST=0.0.0.0');
    const port = /POLICY_GATEWAY_PORT=(\d+)/.exec(env)?.[1];
    expect(one('EXPOSE').map((e) => e.args)).toEqual([port]);
    const hc = one('HEALTHCHECK')[0]!.args;
    expect(hc).toMatch(/--interval=\d+s/);
    expect(hc).toMatch(/--timeout=\d+s/);
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD') + 3)) as string[];
    expect(cmd[0]).toBe('node');
    const copied = one('COPY').find((c) => c.args.endsWith(` .${cmd[1]!.replace('/app', '')}`))!;
    const script = readFileSync(path.join(ROOT, copied.args.split(' ')[0]!), 'utf8');
    expect(script).toContain('/healthz');
    expect(script).toContain('POLICY_GATEWAY_PORT');
  });

  it('bakes the bundled policies where POLICY_GATEWAY_RULES points (mount your own over them)', () => {
    const rules = /POLICY_GATEWAY_RULES=(\S+)/.exec(one('ENV').map((e) => e.args).join(' '))?.[1];
    expect(one('COPY').map((c) => c.args)).toContain(`rules ${rules}`);
  });

  it('every COPY source exists and is in the build context (not excluded by .dockerignore)', () => {
    for (const c of [...STAGES[0]!.instrs, ...RUNTIME.instrs].filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))) {
      for (const src of c.args.split(' ').slice(0, -1)) {
        expect(existsSync(path.join(ROOT, src)), src).toBe(true);
        expect(dockerIgnored(src, IGNORE), `${src} is excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('.dockerignore keeps tests, benchmarks, docs, node_modules and .git out of the context', () => {
    for (const p of ['node_modules/vitest/package.json', '.git/HEAD', 'test/e2e/gateway.test.ts', 'bench/run.ts', 'docs/errors.md', 'rules/rules.test.ts',
      'plugins/auth/auth.test.ts', '.ci/run', 'Dockerfile']) expect(dockerIgnored(p, IGNORE), p).toBe(true);
    for (const p of ['src/cli/main.ts', 'plugins/moderation/lexicon/x.json', 'rules/demo.policy', 'package-lock.json']) expect(dockerIgnored(p, IGNORE), p).toBe(false);
  });

  it('every file the CLI loads at run time is copied into the image, and every package it imports is a production dependency', () => {
    const { files, packages } = importClosure(path.join(ROOT, 'src/cli/main.ts'));
    expect(files.size).toBeGreaterThan(50);
    const copiedDirs = one('COPY').filter((c) => !c.args.startsWith('--from')).map((c) => c.args.split(' ')[0]!);
    for (const f of files) {
      const rel = path.relative(ROOT, f);
      expect(copiedDirs.some((d) => rel === d || rel.startsWith(`${d}/`)), `${rel} is not copied into the image`).toBe(true);
      expect(dockerIgnored(rel, IGNORE), `${rel} is excluded by .dockerignore`).toBe(false);
    }
    // Data files read at run time by path rather than imported (the moderation lexicon) are inside copied folders too.
    expect(statSync(path.join(ROOT, 'plugins/moderation/lexicon')).isDirectory()).toBe(true);
    expect([...packages].sort()).toEqual(expect.arrayContaining(["chevrotain", "http-proxy-3", "pino"]));
    for (const p of packages) expect(Object.keys(PKG.dependencies), `${p} is imported at run time but not a production dependency`).toContain(p);
  });
});
