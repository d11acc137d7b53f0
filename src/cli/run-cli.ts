// The `policy-gateway` command line: serve | check | fmt | explain, and the subcommands the registered plugins contribute (auth:
// keys). A thin dispatcher over a plugin list; src/cli/main.ts runs it with the bundled plugins.
import { ConfigError, parseServeConfig, SERVE_HELP } from '../config.ts';
import { buildRegistry } from '../plugin-registry.ts';
import type { CommandIO, PluginFactory } from '../sdk/plugin.ts';

/** The plugins a command runs with, loaded only by the commands that need them (fmt does not). */
export type PluginLoader = () => Promise<readonly PluginFactory<any>[]>;

function help(plugins: readonly PluginFactory<any>[]): string {
  const extra: string[] = [];
  for (const [name, { command }] of buildRegistry(plugins).commands) extra.push(`  ${name.padEnd(9)} policy-gateway ${name} ${command.usage}`);
  return `Usage: policy-gateway <command> [options]

Commands:
  serve     start the gateway (policy-gateway serve --help for every option)
  check     check .policy files: policy-gateway check [paths] [--format json]
  fmt       format .policy files: policy-gateway fmt [--check|--write] [paths]
  explain   explain one request's evaluation: policy-gateway explain --policy ID --request req.json [--answer F|--stream F] [--format json]
${extra.join('\n')}

Environment: POLICY_GATEWAY_* variables mirror serve's flags; REDIS_URL shares quotas across replicas.`;
}

/** Runs one `policy-gateway` invocation (`argv` without the program name); resolves with its exit code. */
export async function runCli(argv: readonly string[], loadPlugins: PluginLoader, io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
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
        return await serve(config, process.env, await loadPlugins());
      } catch (e) {
        // Startup failures (policies that do not load, a port in use) are operator errors: message, no stack.
        process.stderr.write(`policy-gateway serve: ${(e as Error).message}\n`);
        return 1;
      }
    }
    case 'check': {
      const { runCheck } = await import('./check.ts');
      const plugins = await loadPlugins();
      try {
        buildRegistry(plugins); // the same plugin checks as serve: a misordered or clashing plugin list is refused
      } catch (e) {
        io.stderr.write(`policy-gateway check: ${(e as Error).message}\n`);
        return 2;
      }
      return runCheck(rest, io, plugins, process.env);
    }
    case 'fmt': {
      const { runFmt } = await import('./fmt.ts');
      return runFmt(rest, io);
    }
    case 'explain': {
      const { runExplain } = await import('./explain.ts');
      return runExplain(rest, io, await loadPlugins(), process.env);
    }
    case undefined: case '-h': case '--help': case 'help':
      io.stdout.write(`${help(await loadPlugins())}\n`);
      return cmd === undefined ? 2 : 0;
    default: {
      const plugins = await loadPlugins();
      const contributed = buildRegistry(plugins).commands.get(cmd);
      if (contributed) return contributed.command.run(rest, io);
      io.stderr.write(`policy-gateway: unknown command "${cmd}"\n\n${help(plugins)}\n`);
      return 2;
    }
  }
}

/** Runs the CLI as the process: sets the exit code, and makes sure a stopped `serve` exits even with lingering handles. */
export function runAsProcess(argv: readonly string[], loadPlugins: PluginLoader): void {
  runCli(argv, loadPlugins).then(
    (code) => {
      process.exitCode = code;
      // Lingering handles (keep-alive sockets, a reconnecting Redis client) must not keep a stopped gateway alive.
      if (argv[0] === 'serve') setTimeout(() => process.exit(code), 1500).unref();
    },
    (err: unknown) => { process.stderr.write(`policy-gateway: ${(err as Error)?.stack ?? String(err)}\n`); process.exitCode = 1; },
  );
}
