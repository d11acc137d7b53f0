// Fuzz profiles: the short one runs in `npm test` (seconds), the long one with `npm run fuzz` (FUZZ=long; minutes,
// with the gateway's memory measured at the start and the end). FUZZ_RUNS overrides the runs per property, FUZZ_SEED
// replays a failure that fast-check reported.

/** True under `npm run fuzz`. */
export const LONG = process.env.FUZZ === 'long';

/** Runs per property. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? (LONG ? 4000 : 60));

/** fast-check parameters shared by every fuzz property. */
export const FC_PARAMS = {
  numRuns: RUNS,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  // Every run is one or a few HTTP exchanges: shrinking a failure can take many of them, so it is bounded.
  maxSkipsPerRun: 10,
  endOnFailure: !LONG,
} as const;

/** Per-test time budget: generous for the long profile. */
export const TIMEOUT_MS = LONG ? 60 * 60_000 : 120_000;
