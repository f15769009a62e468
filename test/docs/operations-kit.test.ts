/**
 * The operations kit in examples/: the Grafana dashboard queries only metrics a real node
 * serves at /metrics (a cluster node, with an http backend, so every family is registered),
 * and the systemd unit's environment file, as its comment shows it, configures a node from
 * examples/cluster.yaml.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/index.js';
import { http, specYaml } from '../support/fixtures.js';
import { connectClient } from '../support/harness.js';
import { suiteBackend, suiteNode, suiteRedis } from '../support/scoped.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Dashboard {
  title: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
  templating: { list: { name: string; definition?: string }[] };
}

const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'examples/grafana/switchboard-dashboard.json'), 'utf8')) as Dashboard;

/** Metric names in PromQL: identifiers followed by a selector, a range or a closing parenthesis. */
function metricsIn(expr: string): string[] {
  const functions = new Set(['sum', 'rate', 'min', 'max', 'by', 'histogram_quantile', 'le', 'label_values', 'job', 'instance']);
  return [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*\{/g)].map((m) => m[1]!).filter((name) => !functions.has(name));
}

/** The family a sample name belongs to (histograms expose _bucket, _sum and _count). */
const familyOf = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');

describe('examples/grafana/switchboard-dashboard.json', () => {
  const redis = suiteRedis();
  const backend = suiteBackend((_request, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  const node = suiteNode(() => ({ spec: specYaml({ '/ws': { message: http(`${backend.url}/message`) } }, 'dash-gw'), settings: { backplane: redis.url, nodeId: 'dash-a' } }));

  it('every panel queries through the datasource variable and has at least one query', () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe('${datasource}');
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    }
  });

  it("every metric it queries exists in a real node's /metrics", async () => {
    // Traffic first, so the labelled families have samples too.
    const client = await connectClient(node.wsUrl('/ws'));
    client.ws.send('{"hello":1}');
    await client.next();
    await client.close();
    const exposition = (await node.api('GET', '/metrics')).text;
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const samples = new Set([...exposition.matchAll(/^([a-z_][a-z0-9_]*)[{ ]/gm)].map((m) => m[1]!));
    const queried = new Set([
      ...dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => metricsIn(target.expr))),
      ...dashboard.templating.list.flatMap((variable) => metricsIn(variable.definition ?? '')),
    ]);
    expect(queried.size).toBeGreaterThanOrEqual(12);
    const missing = [...queried].filter((name) => !families.has(familyOf(name)) && !families.has(name));
    expect(missing, `queried by the dashboard but not in /metrics`).toEqual([]);
    // The ones this traffic produces carry samples, not just a TYPE line.
    for (const name of ['switchboard_connections', 'switchboard_messages_in_total', 'switchboard_backend_seconds_bucket', 'switchboard_backplane_up', 'switchboard_closes_total']) {
      expect(samples.has(name), name).toBe(true);
    }
  });
});

describe('examples/systemd/switchboard.service', () => {
  const unit = readFileSync(path.join(ROOT, 'examples/systemd/switchboard.service'), 'utf8');

  it('starts the CLI with a config file and reads secrets from a root-only environment file', () => {
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \S+\/bin\/switchboard\.js start --config \S+$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/switchboard\/switchboard\.env$/m);
    expect(unit).toMatch(/mode 600/);
    // Longer than drainSeconds' default (10), so a drain is not cut short by SIGKILL.
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).toBeGreaterThan(10);
  });

  it('the environment file its comment shows configures a node from examples/cluster.yaml', () => {
    const lines = [...unit.matchAll(/^#\s{3}([A-Z_]+)=(.*)$/gm)];
    expect(lines.map((m) => m[1])).toEqual(['SWITCHBOARD_API_KEY', 'SWITCHBOARD_BACKPLANE', 'SWITCHBOARD_NODE_ID']);
    const env = Object.fromEntries(lines.map((m) => [m[1]!, m[1] === 'SWITCHBOARD_API_KEY' ? 'k'.repeat(24) : m[2]!]));
    const settings = loadSettings({ configFile: path.join(ROOT, 'examples/cluster.yaml'), flags: {}, env });
    expect(settings.backplane).toBe('redis://:password@10.0.0.5:6379');
    expect(settings.nodeId).toBe('node-a');
    expect(settings.management.apiKeys.map((k) => k.key)).toEqual(['k'.repeat(24)]);
  });
});
