// Container HEALTHCHECK: exits 0 when the gateway in this container answers GET /healthz with 200, else 1.
// Plain JavaScript (no type stripping needed); reads the same POLICY_GATEWAY_HOST/PORT variables as `serve`.
const host = process.env.POLICY_GATEWAY_HOST ?? '127.0.0.1';
const port = process.env.POLICY_GATEWAY_PORT ?? '5000';
// A wildcard listen address is reached over loopback; a specific one is used as given.
const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

try {
  const res = await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
