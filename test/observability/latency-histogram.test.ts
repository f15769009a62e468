import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/observability/index.js';

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OBSERVATIONS: [string, string, number][] = [
  ['MESSAGE', 'done', 0.0004],
  ['MESSAGE', 'done', 0.001], // on a bound: counted in that bucket (le)
  ['MESSAGE', 'done', 0.0031],
  ['CONNECT', 'done', 0.2],
  ['MESSAGE', 'done', 42], // above every bound: +Inf only
  ['CONNECT', 'failed', 0.0099],
];

/** The same observations through prom-client's own histogram and through LatencyHistogram. */
function both(): { own: Registry; reference: Registry } {
  const own = new Registry();
  const reference = new Registry();
  const ours = new LatencyHistogram('switchboard_backend_seconds', 'Backend integration call latency', BOUNDS, [own]);
  const theirs = new Histogram({ name: 'switchboard_backend_seconds', help: 'Backend integration call latency', labelNames: ['event', 'outcome'], buckets: BOUNDS, registers: [reference] });
  for (const [event, outcome, seconds] of OBSERVATIONS) {
    ours.observe({ event, outcome }, seconds);
    theirs.observe({ event, outcome }, seconds);
  }
  return { own, reference };
}

describe('LatencyHistogram', () => {
  it('exports exactly what prom-client’s histogram exports for the same observations (text format)', async () => {
    const { own, reference } = both();
    const text = await own.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('switchboard_backend_seconds_bucket{le="0.001",event="MESSAGE",outcome="done"} 2');
    expect(text).toContain('switchboard_backend_seconds_bucket{le="+Inf",event="MESSAGE",outcome="done"} 4');
    expect(text).toContain('switchboard_backend_seconds_count{event="CONNECT",outcome="failed"} 1');
  });

  it('exports the same JSON as prom-client’s histogram', async () => {
    const { own, reference } = both();
    expect(await own.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());
  });

  it('exports nothing but its help and type before the first observation', async () => {
    const registry = new Registry();
    new LatencyHistogram('h_seconds', 'help text', [1], [registry]);
    expect(await registry.metrics()).toBe('# HELP h_seconds help text\n# TYPE h_seconds histogram\n');
  });

  it('refuses a value that is not a finite number, and bounds that do not increase', () => {
    const histogram = new LatencyHistogram('h_seconds', 'help', [1, 2], [new Registry()]);
    expect(() => histogram.observe({ event: 'MESSAGE', outcome: 'done' }, Number.NaN)).toThrow(/not a finite number/);
    expect(() => new LatencyHistogram('g_seconds', 'help', [1, 1], [new Registry()])).toThrow(/must increase/);
  });
});
