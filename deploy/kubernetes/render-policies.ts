// Renders deploy/kubernetes/policies.yaml from the bundled rules/: ConfigMap policy-gateway-policies (every *.policy,
// projected at the policy root) and policy-gateway-lists (list files, projected under lists/ by deployment.yaml).
// Run `npm run deploy:k8s-policies` after changing rules/; test/deploy/kubernetes.test.ts fails on drift.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The policies.yaml text for the rules in `rulesDir` (policy files at its top, list files in lists/). */
export function renderPolicies(rulesDir: string): string {
  const read = (dir: string, ext: string) => Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith(ext)).sort()
    .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
  const configMap = (name: string, comment: string, data: Record<string, string>) =>
    `# ${comment}\n${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }, { lineWidth: 0, blockQuote: 'literal' })}`;
  return '# Generated from rules/ by `npm run deploy:k8s-policies` (deploy/kubernetes/render-policies.ts): edit the .policy files\n' +
    '# there, or replace these ConfigMaps with your own. Kubernetes updates the mounted files in place (symlink swap) and\n' +
    '# the gateway hot-reloads them; a broken policy keeps the last good rule set serving.\n' +
    configMap('policy-gateway-policies', 'Every key is one .policy file at the policy root (/etc/policy-gateway/rules).', read(rulesDir, '.policy')) +
    '---\n' + configMap('policy-gateway-lists', 'Phrase lists named by `deny list "lists/…"`; deployment.yaml projects each key under lists/.', read(path.join(rulesDir, 'lists'), '.txt'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(path.join(ROOT, 'deploy/kubernetes/policies.yaml'), renderPolicies(path.join(ROOT, 'rules')));
  process.stdout.write('wrote deploy/kubernetes/policies.yaml\n');
}
