// Kubernetes manifests (deploy/kubernetes/): every object validated against the Kubernetes JSON schemas
// (kubernetes-models, plus @kubernetes-models/prometheus-operator for the ServiceMonitor) and checked strictly for
// unknown fields by type-checking it against the same models' TypeScript types (like kubeconform -strict); the wiring
// checked (probes, shutdown timing, selectors, Redis, the projected policy volume); and the gateway run on the exact
// directory layout the kubelet makes of that volume, including a `..data` symlink swap of a ConfigMap and a Secret.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ROOT, startGateway } from '../helpers/gateway-process.ts';
import { renderPolicies } from '../../deploy/kubernetes/render-policies.ts';

const DIR = path.join(ROOT, 'deploy/kubernetes');
const DEMO_KEY = 'pgk_wXxgsJlDRmub_Ja6gHpTqRx672U7vxdf90yspOy0PmH7CkfFbXmd0';

/** Model class and the module + interface that types it, per apiVersion/kind. */
const MODELS: Record<string, { model: { new (d: never): { validate(): void } }; types: [string, string] }> = {
  'v1/Namespace': { model: Namespace, types: ['kubernetes-models/v1/Namespace', 'INamespace'] },
  'v1/ConfigMap': { model: ConfigMap, types: ['kubernetes-models/v1/ConfigMap', 'IConfigMap'] },
  'v1/Secret': { model: Secret, types: ['kubernetes-models/v1/Secret', 'ISecret'] },
  'v1/Service': { model: Service, types: ['kubernetes-models/v1/Service', 'IService'] },
  'apps/v1/Deployment': { model: Deployment, types: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'] },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, types: ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'] },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, types: ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'] },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, types: ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'] },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor, types: ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', 'IServiceMonitor'] },
};

// Loose views of the objects, for the wiring checks (the schema checks above are the strict part).
type Labels = Record<string, string>;
interface K8sObject { apiVersion: string; kind: string; metadata: { name: string; labels?: Labels }; [k: string]: unknown }
interface Probe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string; image: string; args?: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string } }[]; ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe; livenessProbe?: Probe; startupProbe?: Probe; lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
}
interface Projection { configMap?: { name: string; items?: { key: string; path: string }[] }; secret?: { name: string; items?: { key: string; path: string }[] } }
interface PodSpec {
  containers: Container[]; terminationGracePeriodSeconds?: number; securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
  volumes?: { name: string; projected?: { sources: Projection[] } }[];
}
interface DeploymentView extends K8sObject { spec: { replicas: number; selector: { matchLabels: Labels }; template: { metadata: { labels: Labels }; spec: PodSpec } } }

/** Resources listed in kustomization.yaml, parsed as Kubernetes parses YAML (1.1: 0440 is octal). */
function loadManifests(): { file: string; obj: K8sObject }[] {
  const kz = parseAllDocuments(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
  return kz.resources.flatMap((file) => parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'), { version: '1.1' })
    .map((d) => { if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`); return d.toJS() as K8sObject | null; })
    .filter((o): o is K8sObject => o !== null).map((obj) => ({ file, obj })));
}
const MANIFESTS = loadManifests();
const find = <T extends K8sObject>(kind: string, name: string): T => {
  const hit = MANIFESTS.find((m) => m.obj.kind === kind && m.obj.metadata.name === name);
  if (!hit) throw new Error(`no ${kind} ${name}`);
  return hit.obj as T;
};
const GATEWAY = find<DeploymentView>('Deployment', 'policy-gateway');
const POD = GATEWAY.spec.template.spec;
const CONTAINER = POD.containers[0]!;
const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Type-checks `objects` against the models' interfaces: excess-property errors are unknown fields. */
function strictTypeErrors(objects: { file: string; obj: K8sObject }[]): string[] {
  const dir = mkdtempSync(path.join(ROOT, 'node_modules/.cache-pgw-k8s-'));
  try {
    const imports = new Set<string>();
    const lines = objects.map(({ file, obj }, i) => {
      const [mod, iface] = MODELS[`${obj.apiVersion}/${obj.kind}`]!.types;
      imports.add(`import type { ${iface} } from '${mod}';`);
      return `// ${file}: ${obj.kind} ${obj.metadata.name}\nexport const o${i}: ${iface} = ${JSON.stringify(obj, null, 1)};`;
    });
    writeFileSync(path.join(dir, 'manifests.ts'), `${[...imports].join('\n')}\n${lines.join('\n')}\n`);
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', skipLibCheck: true, types: [] }, files: ['manifests.ts'] }));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', timeout: 60_000 });
    return `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error TS/.test(l));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Kubernetes manifests', () => {
  it('kustomization.yaml lists every manifest of the folder, and the folder has every object issue 20 asks for', () => {
    const listed = new Set(MANIFESTS.map((m) => m.file));
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
    const kinds = MANIFESTS.map((m) => m.obj.kind);
    for (const k of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor']) expect(kinds).toContain(k);
  });

  it('every object validates against its Kubernetes JSON schema', () => {
    for (const { file, obj } of MANIFESTS) {
      const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(entry, `${file}: no schema for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => new entry!.model(obj as never).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`).not.toThrow();
    }
  });

  it('no object has a field the schema does not know (strict check)', () => {
    expect(strictTypeErrors(MANIFESTS)).toEqual([]);
  });

  it('the checks are live: a wrong type, a missing field and a misspelt field are each caught', () => {
    const bad = structuredClone(GATEWAY);
    (bad.spec as { replicas: unknown }).replicas = 'two';
    expect(() => new Deployment(bad as never).validate()).toThrow(/replicas must be integer/);
    const noName = structuredClone(GATEWAY);
    delete (noName.spec.template.spec.containers[0] as Partial<Container>).name;
    expect(() => new Deployment(noName as never).validate()).toThrow(/required property 'name'|required property name/);
    const typo = structuredClone(GATEWAY);
    (typo.spec.template.spec.containers[0] as unknown as Record<string, unknown>).imagePullPolcy = 'Always';
    expect(strictTypeErrors([{ file: 'typo.yaml', obj: typo }]).join('\n')).toMatch(/imagePullPolcy/);
  });

  it('probes: readiness on /readyz, liveness and startup on /healthz, on the named container port', () => {
    expect(CONTAINER.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(CONTAINER.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(CONTAINER.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const port = CONTAINER.ports!.find((p) => p.name === 'http')!.containerPort;
    expect(String(port)).toBe(CONTAINER.env!.find((e) => e.name === 'POLICY_GATEWAY_PORT')!.value);
  });

  it('shutdown: preStop waits for endpoint removal, then --grace drains; terminationGracePeriodSeconds covers both', () => {
    const preStop = CONTAINER.lifecycle!.preStop!.exec!.command;
    expect(preStop[0]).toBe('sleep');
    const sleep = Number(preStop[1]);
    const grace = Number(/^(\d+)s$/.exec(CONTAINER.args![CONTAINER.args!.indexOf('--grace') + 1]!)![1]);
    expect(sleep).toBeGreaterThan(0);
    expect(grace).toBeGreaterThan(0);
    // The gateway's own stop adds up to ~2 s after the drain (closers, log flush): leave a margin of 5–20 s.
    const total = POD.terminationGracePeriodSeconds!;
    expect(total - (sleep + grace)).toBeGreaterThanOrEqual(5);
    expect(total - (sleep + grace)).toBeLessThanOrEqual(20);
  });

  it('runs as the image user (uid 1000), non-root, read-only root filesystem, no privilege escalation', () => {
    expect(POD.securityContext).toMatchObject({ runAsUser: 1000, runAsNonRoot: true });
    expect(CONTAINER.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
  });

  it('Service, PodDisruptionBudget, HPA and ServiceMonitor all select the gateway pods', () => {
    const labels = GATEWAY.spec.template.metadata.labels;
    expect(matches(GATEWAY.spec.selector.matchLabels, labels)).toBe(true);
    const svc = find<K8sObject & { spec: { selector: Labels; ports: { name: string; targetPort: string }[] } }>('Service', 'policy-gateway');
    expect(matches(svc.spec.selector, labels)).toBe(true);
    expect(svc.spec.ports.map((p) => p.targetPort)).toEqual(['http']);
    const pdb = find<K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Labels } } }>('PodDisruptionBudget', 'policy-gateway');
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    const hpa = find<K8sObject & { spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { kind: string; name: string }; metrics: { resource?: { name: string } }[] } }>('HorizontalPodAutoscaler', 'policy-gateway');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'policy-gateway' });
    expect(hpa.spec.metrics.map((m) => m.resource?.name)).toEqual(['cpu']);
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    // A drain can always proceed: the budget keeps fewer pods than the HPA's floor.
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    expect(GATEWAY.spec.replicas).toBe(hpa.spec.minReplicas);
    const sm = find<K8sObject & { spec: { selector: { matchLabels: Labels }; endpoints: { port: string; path: string }[] } }>('ServiceMonitor', 'policy-gateway');
    expect(matches(sm.spec.selector.matchLabels, svc.metadata.labels ?? {})).toBe(true);
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
  });

  it('quotas are shared through the Redis Service, which only gateway pods may reach', () => {
    const url = new URL(CONTAINER.env!.find((e) => e.name === 'REDIS_URL')!.value!);
    const redisSvc = find<K8sObject & { spec: { selector: Labels; ports: { port: number }[] } }>('Service', url.hostname);
    expect(redisSvc.spec.ports.map((p) => String(p.port))).toContain(url.port);
    const redis = find<DeploymentView>('Deployment', 'policy-gateway-redis');
    expect(matches(redisSvc.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
    const np = find<K8sObject & { spec: { podSelector: { matchLabels: Labels }; ingress: { from: { podSelector: { matchLabels: Labels } }[] }[] } }>('NetworkPolicy', 'policy-gateway-redis');
    expect(matches(np.spec.podSelector.matchLabels, redis.spec.template.metadata.labels)).toBe(true);
    expect(matches(np.spec.ingress[0]!.from[0]!.podSelector.matchLabels, GATEWAY.spec.template.metadata.labels)).toBe(true);
    expect(matches(np.spec.ingress[0]!.from[0]!.podSelector.matchLabels, redis.spec.template.metadata.labels)).toBe(false);
  });

  it('the upstream key comes from the Secret, the settings from the ConfigMap', () => {
    const config = find<K8sObject & { data: Record<string, string> }>('ConfigMap', 'policy-gateway-config');
    expect(CONTAINER.envFrom).toEqual([{ configMapRef: { name: 'policy-gateway-config' } }]);
    const keyEnv = config.data.POLICY_GATEWAY_UPSTREAM_KEY_ENV!;
    const ref = CONTAINER.env!.find((e) => e.name === keyEnv)!.valueFrom!.secretKeyRef!;
    const secret = find<K8sObject & { stringData: Record<string, string> }>('Secret', ref.name);
    expect(Object.keys(secret.stringData)).toContain(ref.key);
    // Every key of the settings ConfigMap is a variable `serve` reads.
    const help = spawnSync(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), 'serve', '--help'], { encoding: 'utf8' }).stdout;
    for (const k of Object.keys(config.data)) expect(help, k).toContain(`[${k}`);
  });

  it('the policy ConfigMaps are the bundled rules/ (npm run deploy:k8s-policies regenerates them)', () => {
    expect(readFileSync(path.join(DIR, 'policies.yaml'), 'utf8')).toBe(renderPolicies(path.join(ROOT, 'rules')));
    const keys = find<K8sObject & { stringData: Record<string, string> }>('Secret', 'policy-gateway-keys');
    expect(keys.stringData['support.keys']).toBe(readFileSync(path.join(ROOT, 'rules/keys/support.keys'), 'utf8'));
  });

  it('the policy volume is one projected directory (no subPath, so updates arrive) holding every file the policies name', () => {
    const mount = CONTAINER.volumeMounts!.find((m) => m.mountPath === CONTAINER.env!.find((e) => e.name === 'POLICY_GATEWAY_RULES')!.value)!;
    expect(mount.readOnly).toBe(true);
    expect(mount.subPath).toBeUndefined();
    const files = projectedFiles();
    const named = [...files.entries()].filter(([f]) => f.endsWith('.policy'))
      .flatMap(([, text]) => [...text.matchAll(/(?:keys|list)\s+"([^"]+)"/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThanOrEqual(3);
    for (const f of named) expect([...files.keys()], f).toContain(f);
  });

  it('the gateway serves from the kubelet\'s volume layout and hot-reloads a ConfigMap and a Secret update (..data symlink swap)', async () => {
    const vol = mkdtempSync(path.join(tmpdir(), 'pgw-k8s-volume-'));
    const config = find<K8sObject & { data: Record<string, string> }>('ConfigMap', 'policy-gateway-config');
    const files = projectedFiles();
    writeAtomic(vol, files, 1);
    const env: Record<string, string> = { ...config.data, POLICY_GATEWAY_RULES: vol, POLICY_GATEWAY_AUDIT: 'off' };
    const gw = await startGateway([], { env });
    try {
      const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; policies: number };
      expect(ready).toMatchObject({ status: 'ready', policies: 3 });
      const ask = async (content: string, headers: Record<string, string> = {}, policy = 'demo') => {
        const r = await fetch(`${gw.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'demo-model', policy_id: policy, messages: [{ role: 'user', content }] }) });
        return { status: r.status, policy: ((await r.json()) as { policy?: { decision: string } }).policy };
      };
      // lists/ (second ConfigMap, projected by items) and keys/ (the Secret) are where the policies look for them.
      expect((await ask('any globex pricing?')).policy?.decision).toBe('refuse');
      const support = { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'support-bot' };
      expect(await ask('What is your refund policy?', support, 'support-bot')).toMatchObject({ status: 200, policy: { decision: 'allow' } });

      // kubectl apply of a changed ConfigMap: the kubelet writes a new ..<timestamp> dir and swaps ..data.
      files.set('demo.policy', files.get('demo.policy')!.replace('deny "competitor pricing"', 'deny "competitor pricing", "zebra migration"'));
      // ... and of the Secret with the demo key's line removed (a revoked key).
      files.set('keys/support.keys', files.get('keys/support.keys')!.split('\n').filter((l) => !l.startsWith('pgk_')).join('\n'));
      writeAtomic(vol, files, 2);
      let decision: string | undefined;
      for (let i = 0; i < 50 && decision !== 'refuse'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        decision = (await ask('tell me about the zebra migration')).policy?.decision;
      }
      expect(decision).toBe('refuse');
      let status = 200;
      for (let i = 0; i < 30 && status !== 401; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await ask('What is your refund policy?', support, 'support-bot')).status;
      }
      expect(status).toBe(401);
    } finally {
      await gw.stop();
      rmSync(vol, { recursive: true, force: true });
    }
  });
});

/** The files of the projected policy volume, by path inside it, from the ConfigMaps and Secrets it projects. */
function projectedFiles(): Map<string, string> {
  const volume = POD.volumes!.find((v) => v.name === CONTAINER.volumeMounts![0]!.name)!;
  const out = new Map<string, string>();
  for (const src of volume.projected!.sources) {
    const ref = src.configMap ?? src.secret!;
    const obj = find<K8sObject & { data?: Record<string, string>; stringData?: Record<string, string> }>(src.configMap ? 'ConfigMap' : 'Secret', ref.name);
    const data = obj.data ?? obj.stringData ?? {};
    const items = ref.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path: p } of items) {
      expect(data[key], `${ref.name} has no key ${key}`).toBeDefined();
      out.set(p, data[key]!);
    }
  }
  return out;
}

/**
 * Writes `files` into `dir` the way the kubelet's AtomicWriter does: a fresh `..<timestamp>` directory, a `..data_tmp`
 * symlink to it renamed over `..data`, top-level symlinks through `..data`, then the old version removed.
 */
function writeAtomic(dir: string, files: ReadonlyMap<string, string>, version: number): void {
  const ts = `..2026_01_01_00_00_0${version}.00000000${version}`;
  for (const [p, text] of files) {
    mkdirSync(path.join(dir, ts, path.dirname(p)), { recursive: true });
    writeFileSync(path.join(dir, ts, p), text);
  }
  const old = readdirSync(dir).filter((e) => e.startsWith('..2026'));
  symlinkSync(ts, path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  for (const top of new Set([...files.keys()].map((p) => p.split('/')[0]!))) {
    try { symlinkSync(path.join('..data', top), path.join(dir, top)); } catch { /* exists from the previous version */ }
  }
  for (const o of old) if (o !== ts) rmSync(path.join(dir, o), { recursive: true, force: true });
}
