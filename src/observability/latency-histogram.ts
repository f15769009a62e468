import { Histogram, type HistogramConfiguration } from 'prom-client';

/** The labels of a backend call's latency: its event, and how it ended. */
export interface LatencyLabels {
  event: string;
  outcome: string;
}

/** One label set's counts: each bucket's own (not cumulative; the last one is +Inf), the sum and the count. */
interface LatencySeries {
  readonly labels: LatencyLabels;
  readonly perBucket: number[];
  sum: number;
  count: number;
}

/** A value as prom-client's registry formats it: bucket (`le`) labels apart from the series' own. */
interface ExportedValue {
  labels: { le?: number | string };
  sharedLabels: LatencyLabels;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A latency histogram observed on every backend call. prom-client's `observe` hashes the
 * labels and makes a closure per call; here observing is two map reads and three increments,
 * and prom-client sees the counts only when the registry is read (through `Exported`, a
 * histogram of its own that reports them), in exactly the form its own histogram reports.
 */
export class LatencyHistogram {
  private readonly series = new Map<string, Map<string, LatencySeries>>();

  constructor(
    readonly name: string,
    help: string,
    private readonly upperBounds: readonly number[],
    registers: HistogramConfiguration<keyof LatencyLabels>['registers'],
  ) {
    for (let i = 1; i < upperBounds.length; i++) {
      if (!(upperBounds[i]! > upperBounds[i - 1]!)) throw new Error(`histogram ${name}: bucket bounds must increase (${upperBounds.join(', ')})`);
    }
    const read = (): ExportedValue[] => this.exported();
    new Exported({ name, help, labelNames: ['event', 'outcome'], buckets: [...upperBounds], ...(registers ? { registers } : {}) }, read);
  }

  observe(labels: LatencyLabels, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`histogram ${this.name}: value is not a finite number: ${seconds}`);
    let byOutcome = this.series.get(labels.event);
    if (byOutcome === undefined) this.series.set(labels.event, (byOutcome = new Map()));
    let series = byOutcome.get(labels.outcome);
    if (series === undefined) {
      series = { labels: { event: labels.event, outcome: labels.outcome }, perBucket: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
      byOutcome.set(labels.outcome, series);
    }
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    series.perBucket[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  private exported(): ExportedValue[] {
    const bucketName = `${this.name}_bucket`;
    const values: ExportedValue[] = [];
    for (const byOutcome of this.series.values()) {
      for (const series of byOutcome.values()) {
        const shared = series.labels;
        let cumulative = 0;
        for (let i = 0; i < this.upperBounds.length; i++) {
          cumulative += series.perBucket[i]!;
          values.push({ labels: { le: this.upperBounds[i]! }, sharedLabels: shared, value: cumulative, metricName: bucketName, exemplar: null });
        }
        values.push(
          { labels: { le: '+Inf' }, sharedLabels: shared, value: series.count, metricName: bucketName, exemplar: null },
          { labels: {}, sharedLabels: shared, value: series.sum, metricName: `${this.name}_sum` },
          { labels: {}, sharedLabels: shared, value: series.count, metricName: `${this.name}_count` },
        );
      }
    }
    return values;
  }
}

/**
 * The registry's view of a LatencyHistogram: a prom-client histogram whose values are read
 * from the counts. prom-client's registry asks `getForPromString` for the text format, and
 * its histogram's `get` (JSON) labels what that returns: both see the counts, never the
 * (unused) series of the base class.
 */
class Exported extends Histogram<keyof LatencyLabels> {
  private readonly exportedName: string;
  private readonly exportedHelp: string;

  constructor(
    configuration: HistogramConfiguration<keyof LatencyLabels>,
    private readonly readValues: () => ExportedValue[],
  ) {
    super(configuration);
    this.exportedName = configuration.name;
    this.exportedHelp = configuration.help;
  }

  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: ExportedValue[]; aggregator: 'sum' }> {
    return Promise.resolve({ name: this.exportedName, help: this.exportedHelp, type: 'histogram', values: this.readValues(), aggregator: 'sum' });
  }
}
