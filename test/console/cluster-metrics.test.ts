/**
 * The console's cluster charts: every node's scrape summed, each node's counters differenced
 * against its own previous scrape, so a node joining, leaving or restarting makes no spike.
 */
import { describe, expect, it } from 'vitest';
import { clusterPoint, clusterScrape } from '../../console/src/metrics.js';

/** A node's /metrics as src/observability/metrics.ts renders it, reduced to what the charts read. */
function metricsText(n: { connections: number; in: number; out: number; calls?: number; sum?: number; buckets?: [string, number][] }): string {
  const lines = [
    '# TYPE switchboard_connections gauge',
    `switchboard_connections ${n.connections}`,
    `switchboard_messages_in_total{gateway="g"} ${n.in}`,
    `switchboard_messages_out_total{gateway="g"} ${n.out}`,
    `switchboard_backend_seconds_sum{event="message"} ${n.sum ?? 0}`,
    `switchboard_backend_seconds_count{event="message"} ${n.calls ?? 0}`,
    ...(n.buckets ?? []).map(([le, count]) => `switchboard_backend_seconds_bucket{event="message",le="${le}"} ${count}`),
  ];
  return `${lines.join('\n')}\n`;
}

describe('clusterPoint', () => {
  it('sums connections over the nodes answering, and rates node by node', () => {
    const first = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 3, in: 100, out: 10 }) },
        { nodeId: 'b', metrics: metricsText({ connections: 4, in: 1000, out: 20 }) },
      ],
      0,
    );
    expect(clusterPoint(undefined, first)).toMatchObject({ connections: 7, messagesInPerSecond: null });
    const second = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 5, in: 120, out: 14 }) },
        { nodeId: 'b', metrics: metricsText({ connections: 1, in: 1010, out: 20 }) },
      ],
      2000,
    );
    expect(clusterPoint(first, second)).toMatchObject({ at: 2000, connections: 6, messagesInPerSecond: 15, messagesOutPerSecond: 2 });
  });

  it('adds no spike when a node joins, leaves or restarts: its share is missing for that interval only', () => {
    const before = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 1, in: 100, out: 0 }) },
        { nodeId: 'b', metrics: metricsText({ connections: 1, in: 5000, out: 0 }) },
      ],
      0,
    );
    const after = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 1, in: 110, out: 0 }) },
        // b restarted: its counter went back down.
        { nodeId: 'b', metrics: metricsText({ connections: 1, in: 3, out: 0 }) },
        // c joined with a long history of its own.
        { nodeId: 'c', metrics: metricsText({ connections: 2, in: 90_000, out: 0 }) },
      ],
      1000,
    );
    expect(clusterPoint(before, after)).toMatchObject({ connections: 4, messagesInPerSecond: 10 });
    const later = clusterScrape([{ nodeId: 'c', metrics: metricsText({ connections: 2, in: 90_004, out: 0 }) }], 2000);
    expect(clusterPoint(after, later)).toMatchObject({ connections: 2, messagesInPerSecond: 4 });
  });

  it('sums backend latency buckets over nodes for the mean and p95', () => {
    const buckets = (fast: number, slow: number): [string, number][] => [
      ['0.01', fast],
      ['0.1', fast + slow],
      ['+Inf', fast + slow],
    ];
    const first = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 0, in: 0, out: 0, calls: 0, sum: 0, buckets: buckets(0, 0) }) },
        { nodeId: 'b', metrics: metricsText({ connections: 0, in: 0, out: 0, calls: 0, sum: 0, buckets: buckets(0, 0) }) },
      ],
      0,
    );
    // a: 100 fast calls (5 ms each); b: 10 slow calls (55 ms each). Alone, a's p95 is under 10 ms.
    const second = clusterScrape(
      [
        { nodeId: 'a', metrics: metricsText({ connections: 0, in: 0, out: 0, calls: 100, sum: 0.5, buckets: buckets(100, 0) }) },
        { nodeId: 'b', metrics: metricsText({ connections: 0, in: 0, out: 0, calls: 10, sum: 0.55, buckets: buckets(0, 10) }) },
      ],
      2000,
    );
    const point = clusterPoint(first, second);
    expect(point.backendMeanMs).toBeCloseTo((1.05 / 110) * 1000, 6);
    // 95% of 110 is 104.5: 4.5 of the 10 calls between 10 and 100 ms.
    expect(point.backendP95Ms).toBeCloseTo((0.01 + 0.09 * 0.45) * 1000, 6);
  });
});
