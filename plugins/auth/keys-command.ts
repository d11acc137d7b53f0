// `policy-gateway keys create|list|revoke`, the auth plugin's CLI command: manages the keys files auth reads. A new
// key is printed once (stdout) and only its sha256 digest is written; files are replaced atomically (write + rename).
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatKeyLine, generateKey, isKnownGrant, isValidLabel, isValidListName, KEY_PREFIX, KNOWN_GRANTS, normalizeKeyId, parseExpiry,
  parseKeysFile, type Grant,
} from './keys-file.ts';

/** Where `keys` reads and writes when `--file` is not given (relative to the working directory). */
export const DEFAULT_KEYS_FILE = 'keys/default.keys';

const HELP = `Usage: policy-gateway keys <create|list|revoke> [options]

  create --label L --policy P [--policy P2 | --policy P1,P2 | --policy '*'] [--project X] [--expires DATE]
         [--grant G] [--file F]
         Prints a new key ONCE on stdout and appends its sha256 digest to the keys file.
         --grant debug (may ask for a live evaluation trace) and/or admin (may open the console); repeatable.
         --project restricts the key to those projects (requests must name one); '*' = any named project.
         --expires 2027-01-01 (00:00:00Z that day) or 2027-01-01T12:00:00Z.
  list   [--file F] [--json]     Ids, labels, policies, projects, expiry and grants of every key (no secrets exist to show).
  revoke --id ID [--file F]      Removes a key (ID is pgk_xxxxxxxxxxxx or the 12-character id); takes effect
                                 within about a second on running gateways.

  --file defaults to ${DEFAULT_KEYS_FILE} (relative to the working directory).`;

/** Where the command writes: stdout gets data (the key, the list), stderr gets messages. */
export interface KeysIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

async function readKeysText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Replaces `file` atomically (temp file + rename) so a gateway never reads a half-written keys file. */
async function writeKeysText(file: string, text: string): Promise<void> {
  let mode = 0o600;
  try { mode = (await stat(file)).mode & 0o777; } catch { /* new file */ }
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

function splitList(values: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) for (const s of v.split(',')) if (s.trim() !== '') out.push(s.trim());
  return out;
}

async function create(v: Record<string, unknown>, io: KeysIo, file: string): Promise<number> {
  const label = v.label as string | undefined;
  const policies = splitList(v.policy as string[] | undefined);
  const projects = splitList(v.project as string[] | undefined);
  const grants = splitList(v.grant as string[] | undefined);
  const usage = (msg: string) => { io.stderr.write(`policy-gateway keys create: ${msg}\n`); return 2; };
  if (label === undefined) return usage('--label is required');
  if (!isValidLabel(label)) return usage(`invalid label "${label}": 1 to 64 of A-Z a-z 0-9 . _ : @ / -`);
  if (policies.length === 0) return usage('--policy is required (a policy id, a comma-separated list, or "*")');
  for (const p of policies) if (p !== '*' && !isValidListName(p)) return usage(`invalid policy id "${p}"`);
  if (policies.includes('*') && policies.length > 1) return usage('--policy "*" already allows every policy; give it alone');
  for (const p of projects) if (p !== '*' && !isValidListName(p)) return usage(`invalid project id "${p}"`);
  if (projects.includes('*') && projects.length > 1) return usage('--project "*" already allows every project; give it alone');
  for (const g of grants) if (!isKnownGrant(g)) return usage(`unknown grant "${g}": expected ${KNOWN_GRANTS.map((x) => `"${x}"`).join(' or ')}`);
  let expiresAt: number | null = null;
  if (v.expires !== undefined) {
    const t = parseExpiry(v.expires as string);
    if (t === undefined) return usage(`invalid --expires "${v.expires as string}": use 2027-01-01 or 2027-01-01T00:00:00Z`);
    if (t <= Date.now()) return usage(`--expires ${v.expires as string} is in the past`);
    expiresAt = t;
  }
  const text = (await readKeysText(file)) ?? '';
  const parsed = parseKeysFile(text);
  if (parsed.problems.length > 0) {
    for (const p of parsed.problems) io.stderr.write(`${file}:${p.line}: ${p.message}\n`);
    io.stderr.write('policy-gateway keys create: the keys file has problems; fix them first (nothing was written)\n');
    return 1;
  }
  let k = generateKey();
  while (parsed.keys.has(k.id)) k = generateKey();
  const line = formatKeyLine({
    id: k.id, key: k.key, label,
    policies: policies[0] === '*' ? '*' : policies,
    projects: projects.length === 0 ? null : projects[0] === '*' ? '*' : projects,
    expiresAt,
    grants: [...new Set(grants as Grant[])],
  });
  const header = text === '' ? '# policy-gateway keys file: one key per line (sha256 digests only). See plugins/auth/README.md\n' : '';
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeKeysText(file, `${header}${text}${sep}${line}\n`);
  io.stdout.write(`${k.key}\n`);
  io.stderr.write(`created key ${KEY_PREFIX}${k.id} (label "${label}") in ${file}\n`
    + 'this is the only time the key is shown: store it now (the file holds only its sha256 digest)\n');
  return 0;
}

async function list(v: Record<string, unknown>, io: KeysIo, file: string): Promise<number> {
  const text = await readKeysText(file);
  if (text === undefined) { io.stderr.write(`policy-gateway keys list: no keys file at ${file}\n`); return 1; }
  const parsed = parseKeysFile(text);
  for (const p of parsed.problems) io.stderr.write(`${file}:${p.line}: ${p.message}\n`);
  const now = Date.now();
  const rows = [...parsed.keys.values()].map((k) => ({
    id: `${KEY_PREFIX}${k.id}`,
    label: k.label,
    policies: k.policies === '*' ? '*' : k.policies.join(','),
    projects: k.projects === null ? '-' : k.projects === '*' ? '*' : k.projects.join(','),
    expires: k.expiresAt === null ? 'never' : new Date(k.expiresAt).toISOString().replace('.000Z', 'Z'),
    grants: k.grants.length === 0 ? '-' : k.grants.join(','),
    status: k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active',
  }));
  if (v.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    const head = { id: 'ID', label: 'LABEL', policies: 'POLICIES', projects: 'PROJECTS', expires: 'EXPIRES', grants: 'GRANTS', status: 'STATUS' };
    const cols = Object.keys(head) as (keyof typeof head)[];
    const width = Object.fromEntries(cols.map((c) => [c, Math.max(head[c].length, ...rows.map((r) => r[c].length))]));
    for (const r of [head, ...rows]) io.stdout.write(`${cols.map((c) => r[c].padEnd(width[c]!)).join('  ').trimEnd()}\n`);
  }
  return parsed.problems.length > 0 ? 1 : 0;
}

async function revoke(v: Record<string, unknown>, io: KeysIo, file: string): Promise<number> {
  const raw = v.id as string | undefined;
  if (raw === undefined) { io.stderr.write('policy-gateway keys revoke: --id is required\n'); return 2; }
  const id = normalizeKeyId(raw);
  if (id === undefined) { io.stderr.write(`policy-gateway keys revoke: "${raw.slice(0, 20)}" is not a key id (pgk_ followed by 12 letters or digits)\n`); return 2; }
  const text = await readKeysText(file);
  if (text === undefined) { io.stderr.write(`policy-gateway keys revoke: no keys file at ${file}\n`); return 1; }
  const entry = parseKeysFile(text).keys.get(id);
  const lines = text.split('\n');
  const want = `${KEY_PREFIX}${id}`;
  let found = false;
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim().split(/\s+/)[0];
    if (first !== want) continue;
    found = true;
    const label = entry ? ` label=${entry.label}` : '';
    lines[i] = `# revoked ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}: ${want}${label}`;
  }
  if (!found) { io.stderr.write(`policy-gateway keys revoke: no key ${want} in ${file}\n`); return 1; }
  await writeKeysText(file, lines.join('\n'));
  io.stderr.write(`revoked ${want} in ${file}\n`);
  return 0;
}

/**
 * Runs `policy-gateway keys …` with `argv` (the arguments after `keys`). Returns the exit code: 0 success,
 * 1 failure (missing file, unknown id, broken keys file), 2 usage error.
 */
export async function runKeys(argv: readonly string[], io: KeysIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io[sub === undefined ? 'stderr' : 'stdout'].write(`${HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        label: { type: 'string' }, policy: { type: 'string', multiple: true }, project: { type: 'string', multiple: true },
        expires: { type: 'string' }, grant: { type: 'string', multiple: true }, file: { type: 'string' }, id: { type: 'string' }, json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true, allowPositionals: false,
    }).values;
  } catch (e) {
    io.stderr.write(`policy-gateway keys ${sub}: ${(e as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) { io.stdout.write(`${HELP}\n`); return 0; }
  const file = resolve((values.file as string | undefined) ?? DEFAULT_KEYS_FILE);
  try {
    switch (sub) {
      case 'create': return await create(values, io, file);
      case 'list': return await list(values, io, file);
      case 'revoke': return await revoke(values, io, file);
      default:
        io.stderr.write(`policy-gateway keys: unknown subcommand "${sub}"\n\n${HELP}\n`);
        return 2;
    }
  } catch (e) {
    io.stderr.write(`policy-gateway keys ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
}
