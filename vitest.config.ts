// vitest configuration: the whole suite (unit, plugin, golden, property and end-to-end tests) in one run.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bench/**/*.test.ts', 'rules/**/*.test.ts', 'grammar/**/*.test.ts', 'plugins/**/*.test.ts', 'connectors/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Redis (its own on a spare port when none answers at REDIS_URL) and the Debian tools the tests run: see the file.
    globalSetup: ['test/setup/global-setup.ts'],
    reporters: ['default'],
  },
});
