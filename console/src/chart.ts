import { h, setText, svg } from './dom.js';
import type { Point } from './metrics.js';

export interface SeriesSpec {
  name: string;
  /** CSS class giving the line its colour (see styles.css). */
  className: string;
  value: (point: Point) => number | null;
}

const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { left: 60, right: 12, top: 12, bottom: 26 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** At most this many steps up the y axis. */
const Y_TICKS = 4;

/**
 * A time-series line chart drawn as SVG: a fixed time window ending now, a y axis from zero
 * to a rounded maximum, gaps where a value is unknown. The legend under it states the
 * current values as text, which is also what assistive technology reads.
 */
export class LineChart {
  readonly element: HTMLElement;
  private readonly plot: SVGGElement;
  private readonly axes: SVGGElement;
  private readonly paths: SVGPathElement[];
  /** A marker on each series' latest value, so a lone first point is visible too. */
  private readonly markers: SVGCircleElement[];
  private readonly legendValues: HTMLElement[];
  private readonly svgElement: SVGSVGElement;

  constructor(
    readonly title: string,
    private readonly series: SeriesSpec[],
    private readonly format: (value: number) => string,
    private readonly windowMs: number,
    testId: string,
    /** Counts: the y axis steps by whole numbers. */
    private readonly integer = false,
  ) {
    this.axes = svg('g', { class: 'axes' });
    this.paths = series.map((s) => svg('path', { class: `line ${s.className}`, fill: 'none' }));
    this.markers = series.map((s) => svg('circle', { class: `marker ${s.className}`, r: 3.5, visibility: 'hidden' }));
    this.plot = svg('g', { class: 'plot' }, ...this.paths, ...this.markers);
    this.svgElement = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMidYMid meet' }, this.axes, this.plot);
    this.legendValues = series.map(() => h('span', { class: 'legend-value' }, '—'));
    this.element = h(
      'figure',
      { class: 'chart', 'data-testid': testId },
      h('figcaption', {}, h('h2', {}, title), h('ul', { class: 'legend' }, ...series.map((s, i) => h('li', {}, h('span', { class: `swatch ${s.className}`, 'aria-hidden': 'true' }), `${s.name}: `, this.legendValues[i]!)))),
      this.svgElement,
    );
  }

  update(points: Point[], now: number): void {
    const start = now - this.windowMs;
    let max = 0;
    for (const p of points) for (const s of this.series) max = Math.max(max, s.value(p) ?? 0);
    let step = niceCeiling(max / Y_TICKS);
    if (this.integer) step = Math.max(1, Math.ceil(step));
    const steps = Math.max(1, Math.ceil(max / step - 1e-9));
    const top = step * steps;
    const x = (at: number): number => MARGIN.left + ((at - start) / this.windowMs) * PLOT_W;
    const y = (value: number): number => MARGIN.top + PLOT_H - (value / top) * PLOT_H;

    this.series.forEach((s, i) => {
      let d = '';
      let drawing = false;
      for (const p of points) {
        const value = s.value(p);
        if (value === null || p.at < start) {
          drawing = false;
          continue;
        }
        // A lone point is a zero-length segment, drawn as a dot by the round line cap.
        d += drawing ? `L${x(p.at).toFixed(1)},${y(value).toFixed(1)}` : `M${x(p.at).toFixed(1)},${y(value).toFixed(1)}h0.01`;
        drawing = true;
      }
      this.paths[i]!.setAttribute('d', d);
      const latest = [...points].reverse().find((p) => s.value(p) !== null && p.at >= start);
      setText(this.legendValues[i]!, latest === undefined ? '—' : this.format(s.value(latest)!));
      const marker = this.markers[i]!;
      if (latest === undefined) marker.setAttribute('visibility', 'hidden');
      else {
        marker.setAttribute('cx', x(latest.at).toFixed(1));
        marker.setAttribute('cy', y(s.value(latest)!).toFixed(1));
        marker.setAttribute('visibility', 'visible');
      }
    });

    const children: SVGElement[] = [];
    for (let t = 0; t <= steps; t++) {
      const value = step * t;
      const yy = y(value);
      children.push(svg('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: yy, y2: yy }));
      children.push(svg('text', { class: 'tick', x: MARGIN.left - 6, y: yy + 4, 'text-anchor': 'end' }, this.format(value)));
    }
    const minutes = Math.round(this.windowMs / 60000);
    for (let m = minutes; m >= 0; m--) {
      const xx = x(now - m * 60000);
      children.push(svg('text', { class: 'tick', x: xx, y: HEIGHT - 5, 'text-anchor': m === minutes ? 'start' : m === 0 ? 'end' : 'middle' }, m === 0 ? 'now' : `−${m} min`));
    }
    this.axes.replaceChildren(...children);
    this.svgElement.setAttribute('aria-label', `${this.title}, last ${minutes} minutes; ${this.series.map((s, i) => `${s.name} ${this.legendValues[i]!.textContent}`).join(', ')}`);
  }
}

/** 1, 2, 2.5 or 5 times a power of ten, at or above the value; 1 for nothing at all. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
