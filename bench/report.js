// Turns a run's measurements into the three results files: JSON (everything), Markdown
// (tables) and SVG (hand-written bars). Each names the machine, the versions and the date.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- numbers ----

export function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function spread(values) {
  const finite = values.filter(Number.isFinite);
  return { median: median(finite), min: finite.length ? Math.min(...finite) : NaN, max: finite.length ? Math.max(...finite) : NaN, rounds: values };
}

export function formatRate(v) {
  if (!Number.isFinite(v)) return '—';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} k`;
  return v.toFixed(0);
}

function formatValue(v, unit) {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'bytes/connection') return `${(v / 1024).toFixed(2)} KiB`;
  if (unit === 'ms') return `${v.toFixed(2)} ms`;
  if (unit === 'cores') return `${v.toFixed(2)} of a core`;
  if (unit === 'µs') return `${v.toFixed(1)} µs`;
  return `${formatRate(v)}/s`;
}

function formatRange(s, unit) {
  if (!Number.isFinite(s.min)) return '—';
  if (unit === 'bytes/connection') return `${(s.min / 1024).toFixed(2)}–${(s.max / 1024).toFixed(2)} KiB`;
  if (unit === 'ms') return `${s.min.toFixed(2)}–${s.max.toFixed(2)} ms`;
  return `${formatRate(s.min)}–${formatRate(s.max)}/s`;
}

// ---- where and with what ----

function machine(loadAverageAtStart) {
  const cpus = os.cpus();
  return {
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg()[0],
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

function packageVersion(root, name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function versions(root) {
  const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  const commit = git.status === 0 ? `${git.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted src changes' : ''}` : 'unknown';
  return {
    switchboard: `${own.version} (${commit})`,
    node: process.version,
    ws: packageVersion(root, 'ws'),
    '@trufflesuite/uws-js-unofficial': packageVersion(root, '@trufflesuite/uws-js-unofficial'),
    'socket.io': packageVersion(root, 'socket.io'),
    undici: packageVersion(root, 'undici'),
  };
}

// ---- the report ----

const SECONDARY = {
  'fanout-1k': [
    ['latencyP50', 'ms'],
    ['latencyP99', 'ms'],
    ['latencyRate', 'messages/s'],
  ],
  echo: [
    ['p50', 'ms'],
    ['p99', 'ms'],
  ],
  'mgmt-send': [
    ['p50', 'ms'],
    ['p99', 'ms'],
  ],
  'mgmt-publish': [['requestRate', 'requests/s']],
  cluster: [
    ['p50', 'ms'],
    ['p99', 'ms'],
    ['latencyRate', 'messages/s'],
    ['latencyCpu', 'cores'],
    ['steadyP50', 'ms'],
    ['steadyP99', 'ms'],
    ['steadyCpu', 'cores'],
  ],
  memory: [['heapPerConnection', 'bytes/connection']],
  'http-echo': [
    ['p50', 'ms'],
    ['p99', 'ms'],
    ['backendCpu', 'cores'],
    ['serverUsPerMessage', 'µs'],
    ['singleP50', 'ms'],
    ['directP50', 'ms'],
    ['addedP50', 'ms'],
  ],
  'http-connect': [
    ['backendCpu', 'cores'],
    ['serverUsPerConnection', 'µs'],
  ],
};

export function buildReport(input) {
  const { measurements, scenarios, stacks, targets, notMeasurable, errors, root } = input;
  const date = new Date().toISOString();
  const figures = {};
  let lost = 0;
  let measured = 0;
  const lossyFigures = [];
  for (const [name, def] of Object.entries(scenarios)) {
    const perStack = measurements[name];
    if (perStack === undefined) continue;
    const out = { title: def.title, unit: def.unit, better: def.better, stacks: {} };
    for (const [stack, rounds] of Object.entries(perStack)) {
      const entry = { label: stacks[stack].label, ...spread(rounds.map((m) => m.value)), lost: 0, secondary: {}, details: rounds };
      for (const m of rounds) {
        measured++;
        entry.lost += m.lost ?? 0;
      }
      for (const [key, unit] of SECONDARY[name] ?? []) entry.secondary[key] = { unit, ...spread(rounds.map((m) => m[key])) };
      entry.cpu = { server: median(rounds.map((m) => m.serverCpu ?? NaN)), loadGenerator: median(rounds.map((m) => m.loadgenCpu ?? NaN)) };
      lost += entry.lost;
      if (entry.lost > 0) lossyFigures.push(`${name}/${stack}`);
      out.stacks[stack] = entry;
    }
    figures[name] = out;
  }

  const evaluated = targets.map((t) => evaluateTarget(t, figures));
  const report = {
    title: 'Switchboard benchmark',
    date,
    machine: machine(input.loadAverageAtStart),
    versions: versions(root),
    mode: input.mode,
    rounds: input.rounds,
    pinning: input.pinning,
    openFilesLimit: input.openFiles,
    profile: input.profile,
    durationSeconds: input.seconds,
    figures,
    targets: evaluated,
    notMeasurable,
    lossCheck: {
      rule: 'delivered = published × subscribers (fan-out, publish), replies = requests (echo, send), connections held = connections opened (memory, connect)',
      measurements: measured,
      lost,
      ok: lost === 0,
      lossyFigures,
    },
    errors,
  };
  report.httpIntegrations = httpIntegrations(figures, evaluated);
  report.markdownTables = markdownTables(report);
  return report;
}

const HTTP_SCENARIOS = ['http-echo', 'http-connect'];
const RELAY = 'relay-http';

/**
 * The HTTP integration scenarios in one place: every stack against the hand-written relay of
 * the same round, its round trip, the CPU of the server, of its backend and of the load
 * generator, and the added single-client latency against its target.
 */
function httpIntegrations(figures, targets) {
  const added = targets.find((t) => t.metric === 'addedP50');
  const rows = [];
  for (const scenario of HTTP_SCENARIOS) {
    const fig = figures[scenario];
    if (fig === undefined) continue;
    const relay = fig.stacks[RELAY];
    for (const [stack, e] of Object.entries(fig.stacks)) {
      const s = e.secondary;
      const perRound = relay === undefined ? [] : e.rounds.map((v, i) => v / relay.rounds[i]).filter(Number.isFinite);
      rows.push({
        scenario,
        stack,
        label: e.label,
        unit: fig.unit,
        value: e.median,
        ratioToRelay: relay === undefined ? NaN : e.median / relay.median,
        ratioRange: perRound.length ? [Math.min(...perRound), Math.max(...perRound)] : undefined,
        p50: s.p50?.median ?? NaN,
        p99: s.p99?.median ?? NaN,
        cpu: { server: e.cpu.server, backend: s.backendCpu?.median ?? NaN, loadGenerator: e.cpu.loadGenerator },
        serverUsPerOperation: (s.serverUsPerMessage ?? s.serverUsPerConnection)?.median ?? NaN,
        singleP50: s.singleP50?.median ?? NaN,
        directP50: s.directP50?.median ?? NaN,
        addedP50: s.addedP50?.median ?? NaN,
        addedP50Target: added === undefined ? undefined : { op: added.op, ms: added.needed },
      });
    }
  }
  return rows;
}

function httpIntegrationLines(report) {
  const rows = report.httpIntegrations ?? [];
  if (rows.length === 0) return [];
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '—');
  const cores = (v) => (Number.isFinite(v) ? v.toFixed(2) : '—');
  const lines = [
    '| Scenario | Stack | Median | × relay (per-round range) | p50 | p99 | CPU server / backend / load gen. | Server CPU per operation | Single client p50 / direct p50 / added |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio =
      r.stack === RELAY ? 'reference' : Number.isFinite(r.ratioToRelay) ? `${r.ratioToRelay.toFixed(2)}×${r.ratioRange ? ` (${r.ratioRange[0].toFixed(2)}–${r.ratioRange[1].toFixed(2)})` : ''}` : '—';
    const per = Number.isFinite(r.serverUsPerOperation) ? `${r.serverUsPerOperation.toFixed(1)} µs/${r.scenario === 'http-echo' ? 'message' : 'connection'}` : '—';
    const target = r.addedP50Target === undefined || !r.stack.startsWith('switchboard') ? '' : ` (target ${r.addedP50Target.op} ${r.addedP50Target.ms} ms: ${compare(r.addedP50, r.addedP50Target.op, r.addedP50Target.ms) ? 'met' : 'missed'})`;
    const single = Number.isFinite(r.singleP50) ? `${ms(r.singleP50)} / ${ms(r.directP50)} / ${ms(r.addedP50)}${target}` : '—';
    const label = r.stack.startsWith('switchboard') ? `**${r.label}**` : r.label;
    lines.push(`| ${r.scenario} | ${label} | ${formatValue(r.value, r.unit)} | ${ratio} | ${ms(r.p50)} | ${ms(r.p99)} | ${cores(r.cpu.server)} / ${cores(r.cpu.backend)} / ${cores(r.cpu.loadGenerator)} | ${per} | ${single} |`);
  }
  return lines;
}

function valuesOf(figures, scenario, stack, metric) {
  const entry = figures[scenario]?.stacks[stack];
  if (entry === undefined) return undefined;
  if (metric === undefined) return { unit: figures[scenario].unit, median: entry.median, rounds: entry.rounds };
  const s = entry.secondary[metric];
  return s === undefined ? undefined : { unit: s.unit, median: s.median, rounds: s.rounds };
}

function compare(a, op, b) {
  if (!Number.isFinite(a)) return false;
  if (op === '>=') return a >= b;
  if (op === '<=') return a <= b;
  if (op === '<') return a < b;
  return a > b;
}

function evaluateTarget(t, figures) {
  const mine = valuesOf(figures, t.scenario, t.stack, t.metric);
  const base = { label: t.label, scenario: t.scenario, stack: t.stack, metric: t.metric ?? 'value', op: t.op };
  if (mine === undefined) return { ...base, status: 'not measured' };
  if (t.absolute !== undefined) {
    return { ...base, unit: mine.unit, value: mine.median, needed: t.absolute, status: compare(mine.median, t.op, t.absolute) ? 'met' : 'missed' };
  }
  const ref = valuesOf(figures, t.ref.scenario, t.ref.stack, t.metric);
  if (ref === undefined) return { ...base, value: mine.median, status: 'not measured', reference: t.ref };
  const ratio = mine.median / ref.median;
  // A zero or missing reference (possible in a smoke run) decides nothing.
  if (!Number.isFinite(ratio)) return { ...base, unit: mine.unit, value: mine.median, reference: { ...t.ref, value: ref.median }, status: 'inconclusive' };
  // Stacks alternate inside a round, so round i of both is a fair pair.
  const perRound = mine.rounds.map((v, i) => v / ref.rounds[i]).filter(Number.isFinite);
  return {
    ...base,
    unit: mine.unit,
    value: mine.median,
    reference: { ...t.ref, value: ref.median },
    ratio,
    ratioRange: perRound.length ? [Math.min(...perRound), Math.max(...perRound)] : undefined,
    needed: t.factor,
    status: compare(ratio, t.op, t.factor) ? 'met' : 'missed',
  };
}

// ---- Markdown ----

function header(report) {
  const m = report.machine;
  const v = report.versions;
  return [
    `Machine: ${m.cpu}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.platform}, Node ${m.node}; ` +
      `load average ${m.loadAverageAtStart.toFixed(2)} at start, ${m.loadAverageAtEnd.toFixed(2)} at end`,
    `Versions: switchboard ${v.switchboard}; ws ${v.ws}; @trufflesuite/uws-js-unofficial ${v['@trufflesuite/uws-js-unofficial']}; socket.io ${v['socket.io']}; undici ${v.undici}`,
    `Date: ${report.date} — ${report.mode} mode, ${report.rounds} round(s), stacks alternated in every round; ` +
      (report.pinning ? `server pinned to core ${report.pinning.server}, load generator to core ${report.pinning.loadGenerator}` : 'no CPU pinning available') +
      `; open files per process ${report.openFilesLimit}`,
  ];
}

function targetRow(t) {
  const fmt = (value, unit) => formatValue(value, unit);
  if (t.status === 'not measured' || t.status === 'inconclusive') return `| ${t.label} | — | — | — | — | ${t.status} |`;
  const mine = t.metric === 'value' ? fmt(t.value, t.unit) : fmt(t.value, 'ms');
  if (t.reference === undefined) {
    const needed = t.metric === 'value' ? fmt(t.needed, t.unit) : `${t.needed} ms`;
    return `| ${t.label} | ${mine} | — | — | ${t.op} ${needed} | ${t.status === 'met' ? '✅ met' : '❌ missed'} |`;
  }
  const ref = t.metric === 'value' ? fmt(t.reference.value, t.unit) : fmt(t.reference.value, 'ms');
  const range = t.ratioRange ? ` (${t.ratioRange[0].toFixed(2)}–${t.ratioRange[1].toFixed(2)})` : '';
  return `| ${t.label} | ${mine} | ${ref} (${t.reference.stack}) | ${t.ratio.toFixed(2)}×${range} | ${t.op} ${t.needed}× | ${t.status === 'met' ? '✅ met' : '❌ missed'} |`;
}

function markdownTables(report) {
  const lines = [];
  lines.push('| Target | Switchboard (median) | Reference (median) | Ratio (per-round range) | Needed | Result |');
  lines.push('|---|---|---|---|---|---|');
  for (const t of report.targets) lines.push(targetRow(t));
  for (const n of report.notMeasurable) lines.push(`| ${n.title} | — | — | — | — | ${n.reason} |`);
  lines.push('');
  lines.push('| Scenario | Stack | Median | Range (min–max) | Rounds | Also | CPU server / load gen. | Lost |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const [name, fig] of Object.entries(report.figures)) {
    const order = Object.entries(fig.stacks);
    for (const [stack, e] of order) {
      const also = Object.entries(e.secondary)
        .filter(([, s]) => Number.isFinite(s.median))
        .map(([key, s]) => `${key} ${formatValue(s.median, s.unit)}${s.unit === 'ms' ? ` (${formatRange(s, s.unit)})` : ''}`)
        .join(', ');
      const label = stack.startsWith('switchboard') ? `**${e.label}**` : e.label;
      const cpu = Number.isFinite(e.cpu.server) ? `${e.cpu.server.toFixed(2)} / ${e.cpu.loadGenerator.toFixed(2)}` : '—';
      lines.push(`| ${name} (${fig.unit}${fig.better === 'lower' ? ', lower is better' : ''}) | ${label} | ${formatValue(e.median, fig.unit)} | ${formatRange(e, fig.unit)} | ${e.rounds.length} | ${also || '—'} | ${cpu} | ${e.lost} |`);
    }
  }
  for (const n of report.notMeasurable) lines.push(`| ${n.scenario} | — | ${n.reason} | — | — | — | — | — |`);
  return lines.join('\n');
}

function markdown(report) {
  const lc = report.lossCheck;
  const lines = [`# ${report.title}`, '', ...header(report).map((l) => `${l}  `), ''];
  lines.push('## Targets (ratios of medians from this run)', '');
  const [targets, figures] = report.markdownTables.split('\n\n');
  lines.push(targets, '');
  lines.push('## Figures', '', figures, '');
  const http = httpIntegrationLines(report);
  if (http.length > 0) {
    lines.push('## HTTP integrations against the hand-written relay', '');
    lines.push('Ratios are to the relay of the same round; CPU is a share of one core; the server CPU per operation is steadier than the rate on a shared machine.', '');
    lines.push(...http, '');
  }
  lines.push('## Nothing lost?', '');
  lines.push(
    lc.ok
      ? `Yes: ${lc.measurements} measurements, ${lc.rule}; 0 lost.`
      : `**No**: ${lc.lost} lost in ${lc.lossyFigures.join(', ')} (rule: ${lc.rule}).`,
  );
  if (report.errors.length > 0) {
    lines.push('', '## Failed sessions', '');
    for (const e of report.errors) lines.push(`- ${e.unit}, ${e.stack}: ${e.error}`);
  }
  lines.push('', `Run took ${report.durationSeconds.toFixed(0)} s. How to read this: bench/README.md.`, '');
  return lines.join('\n');
}

// ---- SVG ----

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Splits at spaces into lines of at most `maxChars` characters (a longer word stays whole). */
function wrapText(s, maxChars) {
  const out = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > maxChars) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}

function svg(report) {
  const W = 1000;
  const LABEL = 290;
  const BAR = 500;
  const ROW = 22;
  const parts = [];
  let y = 0;
  const text = (x, yy, s, attrs = '') => parts.push(`<text x="${x}" y="${yy}" ${attrs}>${esc(s)}</text>`);
  // Lines longer than the picture is wide go on in a next line (character budgets per font size).
  const lines = (x, s, attrs, maxChars, step) => {
    for (const line of wrapText(s, maxChars)) {
      y += step;
      text(x, y, line, attrs);
    }
  };
  y += 12;
  lines(16, `${report.title} — ${report.mode} mode, ${report.rounds} round(s), median bars with min–max whiskers`, 'class="h1"', 100, 18);
  for (const line of header(report)) lines(16, line, 'class="small"', 150, 18);
  y += 14;
  for (const [, fig] of Object.entries(report.figures)) {
    const entries = Object.entries(fig.stacks);
    y += 8;
    lines(16, `${fig.title} — ${fig.unit}${fig.better === 'lower' ? ' (lower is better)' : ' (higher is better)'}`, 'class="h2"', 125, 18);
    y += 8;
    const max = Math.max(...entries.map(([, e]) => (Number.isFinite(e.max) ? e.max : 0)), 1e-9) * 1.05;
    for (const [stack, e] of entries) {
      const top = y + 4;
      const w = Number.isFinite(e.median) ? (e.median / max) * BAR : 0;
      const cls = stack.startsWith('switchboard') ? 'sb' : 'peer';
      text(LABEL - 8, top + 14, e.label, `class="label${cls === 'sb' ? ' strong' : ''}" text-anchor="end"`);
      parts.push(`<rect x="${LABEL}" y="${top + 2}" width="${w.toFixed(1)}" height="${ROW - 6}" class="${cls}"/>`);
      if (Number.isFinite(e.min) && e.rounds.length > 1) {
        const x1 = LABEL + (e.min / max) * BAR;
        const x2 = LABEL + (e.max / max) * BAR;
        const mid = top + 2 + (ROW - 6) / 2;
        parts.push(`<path d="M${x1.toFixed(1)} ${mid}H${x2.toFixed(1)}M${x1.toFixed(1)} ${mid - 4}V${mid + 4}M${x2.toFixed(1)} ${mid - 4}V${mid + 4}" class="whisker"/>`);
      }
      const extra = e.secondary.p99 ? `, p99 ${e.secondary.p99.median.toFixed(2)} ms` : '';
      text(LABEL + BAR + 10, top + 14, `${formatValue(e.median, fig.unit)}${extra}${e.lost > 0 ? ` LOST ${e.lost}` : ''}`, 'class="value"');
      y += ROW;
    }
  }
  const http = report.httpIntegrations ?? [];
  if (http.length > 0) {
    y += 30;
    text(16, y, 'HTTP integrations against the hand-written relay (same round)', 'class="h2"');
    for (const r of http) {
      const parts = [`${r.scenario}, ${r.label}: ${formatValue(r.value, r.unit)}`];
      if (Number.isFinite(r.ratioToRelay) && r.stack !== RELAY) parts.push(`${r.ratioToRelay.toFixed(2)}× relay`);
      if (Number.isFinite(r.p50)) parts.push(`p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      parts.push(`CPU server ${r.cpu.server.toFixed(2)}, backend ${Number.isFinite(r.cpu.backend) ? r.cpu.backend.toFixed(2) : '—'}, load gen. ${r.cpu.loadGenerator.toFixed(2)}`);
      if (Number.isFinite(r.addedP50)) parts.push(`added p50 ${r.addedP50.toFixed(2)} ms${r.addedP50Target && r.stack !== RELAY ? ` (target ${r.addedP50Target.op} ${r.addedP50Target.ms} ms)` : ''}`);
      lines(16, parts.join('; '), 'class="small"', 150, 18);
    }
  }
  y += 30;
  text(16, y, 'Targets (ratio of medians, same run)', 'class="h2"');
  for (const t of report.targets) {
    y += 20;
    const mark = t.status === 'met' ? '✔' : t.status === 'missed' ? '✘' : '–';
    const cls = t.status === 'met' ? 'ok' : t.status === 'missed' ? 'bad' : 'small';
    const detail =
      t.status === 'not measured' || t.status === 'inconclusive'
        ? t.status
        : t.ratio !== undefined
          ? `${t.ratio.toFixed(2)}× (needs ${t.op} ${t.needed}×)`
          : `${t.metric === 'value' ? formatValue(t.value, t.unit) : `${t.value.toFixed(2)} ms`} (needs ${t.op} ${t.metric === 'value' ? formatValue(t.needed, t.unit) : `${t.needed} ms`})`;
    text(16, y, `${mark} ${t.label}: ${detail}`, `class="${cls}"`);
  }
  for (const n of report.notMeasurable) {
    y += 20;
    text(16, y, `– ${n.title}: ${n.reason}`, 'class="small"');
  }
  y += 20;
  text(16, y, report.lossCheck.ok ? `Nothing lost: ${report.lossCheck.measurements} measurements checked` : `LOSS: ${report.lossCheck.lost} in ${report.lossCheck.lossyFigures.join(', ')}`, `class="${report.lossCheck.ok ? 'ok' : 'bad'}"`);
  y += 20;
  const style = `<style>
text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#111827}
.h1{font-size:17px;font-weight:700}.h2{font-size:14px;font-weight:600}.small{font-size:12px;fill:#4b5563}
.label{font-size:12.5px}.strong{font-weight:700}.value{font-size:12.5px;fill:#374151}
.sb{fill:#2563eb}.peer{fill:#9ca3af}.whisker{stroke:#111827;stroke-width:1.2;fill:none}
.ok{font-size:13px;fill:#047857}.bad{font-size:13px;fill:#b91c1c}
</style>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" role="img" aria-label="${esc(report.title)}">\n${style}\n<rect width="100%" height="100%" fill="#ffffff"/>\n${parts.join('\n')}\n</svg>\n`;
}

export function writeReports(report, dir, base) {
  fs.mkdirSync(dir, { recursive: true });
  const { markdownTables: _tables, ...json } = report;
  const files = [path.join(dir, `${base}.json`), path.join(dir, `${base}.md`), path.join(dir, `${base}.svg`)];
  fs.writeFileSync(files[0], `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(files[1], markdown(report));
  fs.writeFileSync(files[2], svg(report));
  return files;
}
