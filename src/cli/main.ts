#!/usr/bin/env node
// The `policy-gateway` command with the bundled plugins (plugins/index.ts, chain order): the bin's and the image's
// entry point. The plugins are imported only by the commands that run them.
import { runAsProcess } from './run-cli.ts';

runAsProcess(process.argv.slice(2), async () => (await import('../../plugins/index.ts')).ALL_PLUGINS);
