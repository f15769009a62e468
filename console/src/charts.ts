import { LineChart } from './chart.js';
import type { ConsoleContext, View } from './context.js';
import { h, setText } from './dom.js';
import { formatClock } from './format.js';
import { clearOutcome, showOutcome } from './outcome.js';

function formatCount(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e4 ? 0 : 1)}k`;
  return String(Number(value.toFixed(value < 10 ? 2 : 1)));
}

function formatMs(value: number): string {
  if (value >= 1000) return `${Number((value / 1000).toFixed(2))} s`;
  return `${value < 10 ? Number(value.toFixed(1)) : Math.round(value)} ms`;
}

function nodesLabel(count: number): string {
  return `all ${count} node${count === 1 ? '' : 's'}`;
}

/** Connections, message rates and backend latency over the sampler's window. */
export function chartsView(ctx: ConsoleContext): View {
  const { sampler } = ctx;
  const charts = [
    new LineChart('Connections', [{ name: 'open', className: 'series-a', value: (p) => p.connections }], formatCount, sampler.windowMs, 'chart-connections', true),
    new LineChart(
      'Messages per second',
      [
        { name: 'in (from clients)', className: 'series-a', value: (p) => p.messagesInPerSecond },
        { name: 'out (to clients)', className: 'series-b', value: (p) => p.messagesOutPerSecond },
      ],
      formatCount,
      sampler.windowMs,
      'chart-messages',
    ),
    new LineChart(
      'Backend latency',
      [
        { name: 'mean', className: 'series-a', value: (p) => p.backendMeanMs },
        { name: 'p95', className: 'series-b', value: (p) => p.backendP95Ms },
      ],
      formatMs,
      sampler.windowMs,
      'chart-latency',
    ),
  ];
  const status = h('p', { class: 'status', 'data-testid': 'charts-status' }, 'Collecting…');
  const region = h('div', { class: 'outcome' });
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'charts-title' },
    h('h1', { id: 'charts-title', tabindex: -1 }, 'Charts'),
    h('p', { class: 'hint' }, `From every node's /metrics, scraped every ${sampler.intervalMs / 1000} s while the console is open and summed across nodes; rates are differences between two scrapes of each node. Prometheus stays the source of truth.`),
    status,
    region,
    h('div', { class: 'chart-grid' }, ...charts.map((c) => c.element)),
  );
  const draw = (): void => {
    const now = Date.now();
    for (const chart of charts) chart.update(sampler.points, now);
    if (sampler.lastError !== undefined) showOutcome(region, { error: sampler.lastError });
    else clearOutcome(region);
    const last = sampler.points[sampler.points.length - 1];
    setText(status, last === undefined ? 'Collecting…' : `${nodesLabel(sampler.nodeCount)} · ${sampler.points.length} samples · last at ${formatClock(last.at)}`);
  };
  draw();
  const unsubscribe = sampler.subscribe(draw);
  return { title: 'Charts', element, dispose: unsubscribe };
}
