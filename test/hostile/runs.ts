/**
 * How many generated cases each property tries. Moderate by default so `test/hostile` runs in
 * well under 40 s on a shared two-core machine; `HOSTILE_SCALE=10` multiplies every figure for
 * a longer hunt (docs/reliability.md records the runs behind its figures).
 */
const scale = Math.max(1, Number(process.env.HOSTILE_SCALE ?? '1') || 1);

const runs = (n: number): number => Math.round(n * scale);

/** A test's time budget grows with the number of cases. */
export const timeoutFor = (ms: number): number => Math.round(ms * scale);

export const RUNS = {
  frames: runs(150),
  garbage: runs(40),
  resets: runs(30),
  envelopes: runs(150),
  crossTenant: runs(40),
  api: runs(300),
  specs: runs(300),
  settings: runs(300),
} as const;
