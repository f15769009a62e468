import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

/**
 * Hot-path counts are plain numbers bumped in place; Prometheus reads them when scraped.
 * A prom-client `inc()` per delivered frame would cost more than the delivery itself.
 */
export class TrafficCounters {
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  connectionsOpened = 0;
  connectionsClosed = 0;
}

/** The surfaces that authenticate callers, as `switchboard_auth_failures_total{surface}` names them. */
export type AuthSurface = 'management' | 'grpc' | 'aws' | 'realtime';

export class Metrics {
  readonly registry = new Registry();
  readonly traffic = new TrafficCounters();
  /** Observed on every backend call: counted plainly, read by Prometheus when scraped. */
  readonly backendLatency: LatencyHistogram;
  readonly connectRejections: Counter<'reason'>;
  readonly closes: Counter<'code'>;
  /** Failed authentications (a wrong key, signature or token), by surface. */
  readonly authFailures: Counter<'surface'>;
  /** Management API requests by `METHOD status`, counted plainly and read when scraped. */
  private readonly apiRequestCounts = new Map<string, number>();

  constructor(connections: () => number, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const traffic = this.traffic;
    new Gauge({ name: 'switchboard_connections', help: 'Open client connections on this node', registers, collect() { this.set(connections()); } });
    const counterFrom = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
    counterFrom('switchboard_messages_in_total', 'Messages received from clients', () => traffic.messagesIn);
    counterFrom('switchboard_messages_out_total', 'Messages written to clients', () => traffic.messagesOut);
    counterFrom('switchboard_bytes_in_total', 'Payload bytes received from clients', () => traffic.bytesIn);
    counterFrom('switchboard_bytes_out_total', 'Payload bytes written to clients', () => traffic.bytesOut);
    counterFrom('switchboard_connections_opened_total', 'Connections accepted', () => traffic.connectionsOpened);
    counterFrom('switchboard_connections_closed_total', 'Connections closed', () => traffic.connectionsClosed);
    this.backendLatency = new LatencyHistogram(
      'switchboard_backend_seconds',
      'Backend integration call latency',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    );
    this.connectRejections = new Counter({ name: 'switchboard_connect_rejections_total', help: 'Upgrades refused', labelNames: ['reason'], registers });
    this.closes = new Counter({ name: 'switchboard_closes_total', help: 'Connections closed by close code', labelNames: ['code'], registers });
    this.authFailures = new Counter({
      name: 'switchboard_auth_failures_total',
      help: 'Failed authentications by surface (management, grpc, aws, realtime)',
      labelNames: ['surface'],
      registers,
    });
    const apiRequestCounts = this.apiRequestCounts;
    new Counter({
      name: 'switchboard_api_requests_total',
      help: 'Management API requests',
      labelNames: ['method', 'status'],
      registers,
      collect() {
        this.reset();
        for (const [key, count] of apiRequestCounts) {
          const space = key.indexOf(' ');
          this.inc({ method: key.slice(0, space), status: key.slice(space + 1) }, count);
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** One management API request answered (on every request: a map increment, no label hashing). */
  countApiRequest(method: string, status: number): void {
    const key = `${method} ${status}`;
    this.apiRequestCounts.set(key, (this.apiRequestCounts.get(key) ?? 0) + 1);
  }

  countAuthFailure(surface: AuthSurface): void {
    this.authFailures.inc({ surface });
  }

  /** Whether the cluster backplane is reachable, read when scraped: 1 up, 0 down. */
  watchBackplane(read: () => { name: string; healthy: boolean }): void {
    new Gauge({
      name: 'switchboard_backplane_up',
      help: 'Whether the cluster backplane is reachable (1) or not (0); absent on a single node',
      labelNames: ['backplane'],
      registers: [this.registry],
      collect() {
        const status = read();
        this.reset();
        this.set({ backplane: status.name }, status.healthy ? 1 : 0);
      },
    });
  }

  /** Backend circuit breakers by origin, read when scraped: 0 closed, 1 open, 2 half-open. */
  watchCircuits(read: () => Iterable<readonly [string, 'closed' | 'open' | 'half-open']>): void {
    const value = { closed: 0, open: 1, 'half-open': 2 } as const;
    new Gauge({
      name: 'switchboard_backend_circuit_state',
      help: 'Backend circuit breaker per origin: 0 closed, 1 open, 2 half-open',
      labelNames: ['origin'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [origin, state] of read()) this.set({ origin }, value[state]);
      },
    });
  }
}
