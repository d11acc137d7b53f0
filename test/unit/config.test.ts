// `serve` flags for the limits of issue 13: defaults, the derived idle timeout, --ops-listen, repeatable --allow-path and
// their environment variables, and clear errors for bad values.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseServeConfig, SERVE_HELP, type GatewayConfig } from '../../src/config.ts';

const parse = (argv: string[], env: Record<string, string> = {}) => parseServeConfig(argv, env) as GatewayConfig;

describe('limit flags', () => {
  it('has safe defaults', () => {
    expect(parse([])).toMatchObject({
      maxJsonDepth: 64, requestTimeoutMs: 60_000, idleTimeoutMs: 120_000, maxConnections: 8192, opsReserve: 32,
      opsListen: undefined, upstreamBodyLimit: 64 * 1024 * 1024, allowPaths: [],
    });
  });

  it('derives the idle timeout from the upstream timeout unless given', () => {
    expect(parse(['--upstream-timeout', '10m']).idleTimeoutMs).toBe(630_000);
    expect(parse(['--upstream-timeout', '10m', '--idle-timeout', '90s']).idleTimeoutMs).toBe(90_000);
  });

  it.each([
    { note: 'a port alone listens on loopback', value: '9464', want: { host: '127.0.0.1', port: 9464 } },
    { note: 'host and port', value: '0.0.0.0:9464', want: { host: '0.0.0.0', port: 9464 } },
    { note: 'a bracketed IPv6 host', value: '[::1]:9464', want: { host: '::1', port: 9464 } },
  ])('--ops-listen: $note', ({ value, want }) => {
    expect(parse(['--ops-listen', value]).opsListen).toEqual(want);
    expect(parse([], { POLICY_GATEWAY_OPS_LISTEN: value }).opsListen).toEqual(want);
  });

  it('--allow-path repeats; the environment variable is a comma list', () => {
    expect(parse(['--allow-path', '/etc/a', '--allow-path', '/etc/b']).allowPaths).toEqual(['/etc/a', '/etc/b']);
    expect(parse([], { POLICY_GATEWAY_ALLOW_PATH: '/etc/a, /etc/b' }).allowPaths).toEqual(['/etc/a', '/etc/b']);
  });

  it('environment variables set depth and connections', () => {
    expect(parse([], { POLICY_GATEWAY_MAX_JSON_DEPTH: '128', POLICY_GATEWAY_MAX_CONNECTIONS: '100' })).toMatchObject({ maxJsonDepth: 128, maxConnections: 100 });
  });

  it.each([
    { argv: ['--max-json-depth', '0'], msg: '--max-json-depth: expected an integer from 1 to 1000' },
    { argv: ['--max-json-depth', '5000'], msg: '--max-json-depth: expected an integer from 1 to 1000' },
    { argv: ['--max-connections', 'lots'], msg: '--max-connections: expected an integer' },
    { argv: ['--ops-listen', 'here'], msg: '--ops-listen: expected [HOST:]PORT' },
    { argv: ['--request-timeout', '0'], msg: '--request-timeout: must be at least 1ms' },
    { argv: ['--upstream-body-limit', 'big'], msg: '--upstream-body-limit: invalid size' },
  ])('refuses $argv', ({ argv, msg }) => {
    expect(() => parse(argv)).toThrow(ConfigError);
    expect(() => parse(argv)).toThrow(msg);
  });

  it('--help documents every limit flag', () => {
    for (const f of ['--max-json-depth', '--request-timeout', '--idle-timeout', '--max-connections', '--ops-reserve', '--ops-listen', '--upstream-body-limit', '--allow-path']) {
      expect(SERVE_HELP).toContain(f);
    }
  });
});

describe('tracing flags', () => {
  it('is off by default; a bare collector address gets /v1/traces, a full URL is kept', () => {
    expect(parse([])).toMatchObject({ otlpEndpoint: undefined, otlpSampleRatio: 1 });
    expect(parse(['--otlp-endpoint', 'http://collector:4318']).otlpEndpoint).toBe('http://collector:4318/v1/traces');
    expect(parse(['--otlp-endpoint', 'https://otel.example.com/custom/traces']).otlpEndpoint).toBe('https://otel.example.com/custom/traces');
    expect(parse([], { POLICY_GATEWAY_OTLP_ENDPOINT: 'http://127.0.0.1:4318/', POLICY_GATEWAY_OTLP_SAMPLE_RATIO: '0.25' }))
      .toMatchObject({ otlpEndpoint: 'http://127.0.0.1:4318/v1/traces', otlpSampleRatio: 0.25 });
  });

  it.each([
    { argv: ['--otlp-endpoint', 'collector:4318'], msg: '--otlp-endpoint: "collector:4318" must be http:// or https://' },
    { argv: ['--otlp-endpoint', 'not a url'], msg: '--otlp-endpoint: invalid URL' },
    { argv: ['--otlp-sample-ratio', '1.5'], msg: '--otlp-sample-ratio: expected a number from 0 to 1' },
    { argv: ['--otlp-sample-ratio', 'half'], msg: '--otlp-sample-ratio: expected a number from 0 to 1' },
  ])('refuses $argv', ({ argv, msg }) => {
    expect(() => parse(argv)).toThrow(msg);
  });

  it('--help documents the tracing flags and their variables', () => {
    for (const f of ['--otlp-endpoint', 'POLICY_GATEWAY_OTLP_ENDPOINT', '--otlp-sample-ratio', 'POLICY_GATEWAY_OTLP_SAMPLE_RATIO']) expect(SERVE_HELP).toContain(f);
  });
});

describe('tracing variables left empty (as a ConfigMap may)', () => {
  it('an empty endpoint is off and an empty ratio is the default', () => {
    expect(parse([], { POLICY_GATEWAY_OTLP_ENDPOINT: '', POLICY_GATEWAY_OTLP_SAMPLE_RATIO: '' })).toMatchObject({ otlpEndpoint: undefined, otlpSampleRatio: 1 });
  });
});

describe('console flags', () => {
  it('the console is off unless --console-keys is given; then it listens on loopback 5001 unless told otherwise', () => {
    expect(parse([]).console).toBeUndefined();
    expect(parse(['--console-keys', 'c.keys']).console).toEqual({ keys: 'c.keys', host: '127.0.0.1', port: 5001 });
    expect(parse(['--console-keys', 'c.keys', '--console-listen', '9000']).console).toEqual({ keys: 'c.keys', host: '127.0.0.1', port: 9000 });
    expect(parse([], { POLICY_GATEWAY_CONSOLE_KEYS: 'c.keys', POLICY_GATEWAY_CONSOLE_LISTEN: '10.0.0.5:5001' }).console)
      .toEqual({ keys: 'c.keys', host: '10.0.0.5', port: 5001 });
    expect(parse(['--console-keys', 'c.keys', '--console-listen', '[::1]:0']).console).toEqual({ keys: 'c.keys', host: '::1', port: 0 });
  });

  it.each([
    { argv: ['--console-listen', '5001'], msg: '--console-listen: the console needs --console-keys FILE' },
    { argv: ['--console-keys', 'c.keys', '--console-listen', 'here'], msg: '--console-listen: expected [HOST:]PORT' },
    { argv: ['--console-keys', 'c.keys', '--console-listen', '70000'], msg: '--console-listen port: expected an integer from 0 to 65535' },
  ])('refuses $argv', ({ argv, msg }) => {
    expect(() => parse(argv)).toThrow(ConfigError);
    expect(() => parse(argv)).toThrow(msg);
  });

  it('--help documents both flags and the default address', () => {
    expect(SERVE_HELP).toContain('--console-keys FILE');
    expect(SERVE_HELP).toContain('--console-listen [HOST:]PORT');
    expect(SERVE_HELP).toContain('default 127.0.0.1:5001');
  });
});
