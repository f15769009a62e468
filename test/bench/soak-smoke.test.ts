import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Keeps `npm run soak` (bench/soak.js) from rotting: a smoke run holds a few hundred
// connections for a few seconds of churn and must pass every check it makes at full size.
// The figures mean nothing at this size; only that each was measured and nothing was lost.

const root = path.resolve(import.meta.dirname, '../..');

interface SoakReport {
  ok: boolean;
  connections: { held: number; nodes: number };
  churn: { closed: number; opened: number; failed: number };
  publications: { acknowledged: number; failed: number };
  deliveries: { expected: number; delivered: number; lost: number; gaps: number; duplicates: number };
  checkpoints: Record<string, unknown>;
  samples: { rss: number; heapUsed: number; handles: number; timers: number }[];
  checks: { name: string; ok: boolean; detail: string }[];
}

/** Runs `bench/soak.js --smoke` with the given flags; answers its exit code, output and report. */
async function smokeRun(flags: string[]): Promise<{ code: number; output: string; report: SoakReport | undefined }> {
  expect(existsSync(path.join(root, 'dist/src/index.js')), 'npm run build first: the soak drives dist/').toBe(true);
  const out = mkdtempSync(path.join(tmpdir(), 'switchboard-soak-smoke-'));
  try {
    const file = path.join(out, 'soak.json');
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, ['bench/soak.js', '--smoke', ...flags, '--out', file], { cwd: root, timeout: 85_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}\n${stderr}` });
      });
    });
    return { code, output, report: existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SoakReport) : undefined };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const CHECKPOINTS = ['baseline', 'beforeWarmupChurn', 'end', 'idleAfter', 'idleBefore'];

describe('soak harness smoke run', () => {
  it(
    'two nodes on a private redis-server (--cluster): publishes from both nodes, every check made on each node, nothing lost',
    async () => {
      const { code, output, report } = await smokeRun(['--cluster']);
      expect(code, output).toBe(0);
      expect(report!.checks.filter((c) => !c.ok), output).toEqual([]);
      expect(report!.connections).toMatchObject({ held: 300, nodes: 2 });
      expect(Object.keys(report!.checkpoints).sort()).toEqual(['soak-a', 'soak-b']);
      for (const points of Object.values(report!.checkpoints)) expect(Object.keys(points as object).sort()).toEqual(CHECKPOINTS);
      for (const node of ['soak-a', 'soak-b']) {
        for (const check of ['RSS after churn', 'timers do not grow', 'listeners per connection do not grow']) {
          expect(report!.checks.some((c) => c.name.startsWith(`${node}: ${check}`)), `${node}: ${check}`).toBe(true);
        }
      }
      expect(report!.publications.acknowledged).toBeGreaterThan(0);
      expect(report!.deliveries.lost).toBe(0);
      expect(report!.deliveries.delivered).toBe(report!.deliveries.expected);
    },
    90_000,
  );

  it(
    'churns a few hundred connections with publishes, samples the node and loses nothing',
    async () => {
      const { code, output, report: parsed } = await smokeRun([]);
      expect(code, output).toBe(0);
      const report = parsed!;
      expect(report.checks.filter((c) => !c.ok), output).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.connections.held).toBe(300);
      expect(report.churn.closed).toBeGreaterThan(0);
      expect(report.churn.opened).toBe(report.churn.closed);
      expect(report.publications.acknowledged).toBeGreaterThan(0);
      expect(report.deliveries.delivered).toBe(report.deliveries.expected);
      expect(report.deliveries.lost).toBe(0);
      expect(Object.keys(report.checkpoints).sort()).toEqual(CHECKPOINTS);
      expect(report.samples.length).toBeGreaterThan(0);
      for (const sample of report.samples) expect(sample.rss).toBeGreaterThan(0);
    },
    90_000,
  );
});
