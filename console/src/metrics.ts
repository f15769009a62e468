import type { ManagementApi, NodeMetrics } from './api.js';

/**
 * Rates and latency computed in the browser from every node's /metrics, which stays the
 * source of truth: the console polls the same Prometheus text a scraper reads (each node's,
 * gathered by the serving node) and differentiates counters between two scrapes, as `rate()`
 * would, node by node before summing, as `sum(rate())` does. Names are those of
 * src/observability/metrics.ts.
 */
export const METRIC = {
  connections: 'switchboard_connections',
  messagesIn: 'switchboard_messages_in_total',
  messagesOut: 'switchboard_messages_out_total',
  backendSum: 'switchboard_backend_seconds_sum',
  backendCount: 'switchboard_backend_seconds_count',
  backendBucket: 'switchboard_backend_seconds_bucket',
} as const;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of the Prometheus text exposition format (comments and timestamps ignored). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** One scrape, reduced to what the charts need; label sets summed. */
export interface Scrape {
  at: number;
  connections: number | undefined;
  messagesIn: number | undefined;
  messagesOut: number | undefined;
  backendSum: number;
  backendCount: number;
  /** Cumulative backend latency buckets by upper bound (seconds), summed over events and outcomes. */
  buckets: Map<number, number>;
}

export function reduceScrape(samples: Sample[], at: number): Scrape {
  const scrape: Scrape = { at, connections: undefined, messagesIn: undefined, messagesOut: undefined, backendSum: 0, backendCount: 0, buckets: new Map() };
  for (const s of samples) {
    switch (s.name) {
      case METRIC.connections:
        scrape.connections = (scrape.connections ?? 0) + s.value;
        break;
      case METRIC.messagesIn:
        scrape.messagesIn = (scrape.messagesIn ?? 0) + s.value;
        break;
      case METRIC.messagesOut:
        scrape.messagesOut = (scrape.messagesOut ?? 0) + s.value;
        break;
      case METRIC.backendSum:
        scrape.backendSum += s.value;
        break;
      case METRIC.backendCount:
        scrape.backendCount += s.value;
        break;
      case METRIC.backendBucket: {
        const le = parseValue(s.labels.le ?? '');
        if (!Number.isNaN(le)) scrape.buckets.set(le, (scrape.buckets.get(le) ?? 0) + s.value);
        break;
      }
    }
  }
  return scrape;
}

/** One point of every chart, for the interval ending at `at`; null where nothing is known. */
export interface Point {
  at: number;
  connections: number | null;
  messagesInPerSecond: number | null;
  messagesOutPerSecond: number | null;
  /** Mean backend call latency over the interval, ms; null when no call completed. */
  backendMeanMs: number | null;
  /** 95th percentile from the histogram's buckets (linear within a bucket), ms. */
  backendP95Ms: number | null;
}

/** Every node's scrape at one moment, by node id. */
export interface ClusterScrape {
  at: number;
  nodes: Map<string, Scrape>;
}

export function clusterScrape(nodes: readonly NodeMetrics[], at: number): ClusterScrape {
  return { at, nodes: new Map(nodes.map((node) => [node.nodeId, reduceScrape(parsePrometheus(node.metrics), at)])) };
}

/**
 * The cluster's point for the interval ending at `current.at`. Connections are summed over
 * the nodes answering now; rates and latency over the nodes seen in both scrapes, each
 * differenced against its own previous scrape, so a node joining or leaving (or restarting,
 * its counters reset) adds no spike, only its share missing for one interval.
 */
export function clusterPoint(previous: ClusterScrape | undefined, current: ClusterScrape): Point {
  const point: Point = { at: current.at, connections: null, messagesInPerSecond: null, messagesOutPerSecond: null, backendMeanMs: null, backendP95Ms: null };
  for (const scrape of current.nodes.values()) point.connections = addKnown(point.connections, scrape.connections ?? null);
  if (previous === undefined) return point;
  const seconds = (current.at - previous.at) / 1000;
  if (seconds <= 0) return point;
  const latency = { sum: 0, calls: 0, before: new Map<number, number>(), after: new Map<number, number>() };
  for (const [nodeId, now] of current.nodes) {
    const then = previous.nodes.get(nodeId);
    if (then === undefined) continue;
    point.messagesInPerSecond = addKnown(point.messagesInPerSecond, rate(then.messagesIn, now.messagesIn, seconds));
    point.messagesOutPerSecond = addKnown(point.messagesOutPerSecond, rate(then.messagesOut, now.messagesOut, seconds));
    const calls = now.backendCount - then.backendCount;
    if (calls <= 0) continue;
    latency.calls += calls;
    latency.sum += now.backendSum - then.backendSum;
    addBuckets(latency.before, then.buckets);
    addBuckets(latency.after, now.buckets);
  }
  if (latency.calls > 0) {
    point.backendMeanMs = (latency.sum / latency.calls) * 1000;
    point.backendP95Ms = quantileMs(latency.before, latency.after, 0.95);
  }
  return point;
}

function addKnown(total: number | null, value: number | null): number | null {
  if (value === null) return total;
  return (total ?? 0) + value;
}

function addBuckets(into: Map<number, number>, buckets: Map<number, number>): void {
  for (const [le, count] of buckets) into.set(le, (into.get(le) ?? 0) + count);
}

/** A counter that went down was reset (the node restarted): no rate for that interval. */
function rate(before: number | undefined, after: number | undefined, seconds: number): number | null {
  if (before === undefined || after === undefined || after < before) return null;
  return (after - before) / seconds;
}

function quantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const deltas = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = deltas[deltas.length - 1] ?? 0;
  if (total <= 0) return null;
  const target = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i]!;
    const cumulative = deltas[i]!;
    if (cumulative >= target) {
      // Past the last finite bucket nothing is known but "more than lower".
      if (!Number.isFinite(upper)) return lower * 1000;
      const inBucket = cumulative - below;
      const fraction = inBucket > 0 ? (target - below) / inBucket : 1;
      return (lower + (upper - lower) * fraction) * 1000;
    }
    lower = upper;
    below = cumulative;
  }
  return null;
}

/**
 * Polls every node's /metrics while signed in, whatever view is open, so the charts already hold the
 * last minutes when the operator opens them. Keeps `windowMs` of points.
 */
export class MetricsSampler {
  readonly points: Point[] = [];
  lastError: unknown = undefined;
  /** How many nodes answered the last scrape. */
  nodeCount = 0;
  private previous: ClusterScrape | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly api: ManagementApi,
    readonly intervalMs = 2000,
    readonly windowMs = 5 * 60 * 1000,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async sample(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const { nodes } = await this.api.nodeMetrics();
      const scrape = clusterScrape(nodes, Date.now());
      this.points.push(clusterPoint(this.previous, scrape));
      this.previous = scrape;
      this.nodeCount = nodes.length;
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error;
      // A gap in the charts rather than a rate across the failure.
      this.previous = undefined;
    } finally {
      this.inFlight = false;
    }
    const cutoff = Date.now() - this.windowMs;
    while (this.points.length > 0 && this.points[0]!.at < cutoff) this.points.shift();
    for (const listener of this.listeners) listener();
  }
}
