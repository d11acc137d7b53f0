#!/usr/bin/env node
// The `policy-gateway` command: serve | check | fmt | keys. A thin dispatcher; each command lives in its own module.
import { ConfigError, parseServeConfig, SERVE_HELP } from '../config.ts';

const HELP = `Usage: policy-gateway <command> [options]

Commands:
  serve     start the gateway (policy-gateway serve --help for every option)
  check     check .policy files: policy-gateway check [paths] [--format json]
  fmt       format .policy files: policy-gateway fmt [--check|--write] [paths]
  keys      manage policy keys: policy-gateway keys create --label L --policy P [--file F]

Environment: POLICY_GATEWAY_* variables mirror serve's flags; REDIS_URL shares quotas across replicas.`;

const io = { stdout: process.stdout, stderr: process.stderr };

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      let config;
      try {
        config = parseServeConfig(rest, process.env);
      } catch (e) {
        if (e instanceof ConfigError) { process.stderr.write(`policy-gateway serve: ${e.message}\n\n${SERVE_HELP}\n`); return 2; }
        throw e;
      }
      if (config === 'help') { process.stdout.write(`${SERVE_HELP}\n`); return 0; }
      const { serve } = await import('./serve.ts');
      try {
        return await serve(config, process.env);
      } catch (e) {
        // Startup failures (policies that do not load, a port in use) are operator errors: message, no stack.
        process.stderr.write(`policy-gateway serve: ${(e as Error).message}\n`);
        return 1;
      }
    }
    case 'check': {
      const { runCheck } = await import('./check.ts');
      const { ALL_PLUGINS } = await import('../../plugins/index.ts');
      return runCheck(rest, io, ALL_PLUGINS, process.env);
    }
    case 'fmt': {
      const { runFmt } = await import('./fmt.ts');
      return runFmt(rest, io);
    }
    case 'keys': {
      const { runKeys } = await import('./keys.ts');
      return runKeys(rest, io);
    }
    case undefined: case '-h': case '--help': case 'help':
      process.stdout.write(`${HELP}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`policy-gateway: unknown command "${cmd}"\n\n${HELP}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Lingering handles (keep-alive sockets, a reconnecting Redis client) must not keep a stopped gateway alive.
    if (process.argv[2] === 'serve') setTimeout(() => process.exit(code), 1500).unref();
  },
  (err: unknown) => { process.stderr.write(`policy-gateway: ${(err as Error)?.stack ?? String(err)}\n`); process.exitCode = 1; },
);
