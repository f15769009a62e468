import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Keeps the benchmark harness (bench/) from rotting: a smoke run starts every stack, runs every
// scenario with a handful of connections for one round, and must lose nothing. The figures
// themselves mean nothing at this size; only that each was measured.

const root = path.resolve(import.meta.dirname, '../..');

/** Which stacks each scenario measures; the harness must report a figure for every pair. */
const EXPECTED: Record<string, string[]> = {
  'fanout-1k': ['switchboard', 'uws', 'ws', 'ws-cork', 'socketio'],
  echo: ['switchboard', 'uws', 'ws', 'socketio'],
  'mgmt-send': ['switchboard'],
  'mgmt-publish': ['switchboard'],
  'fanout-10k': ['switchboard', 'uws', 'ws', 'ws-cork', 'socketio'],
  memory: ['switchboard', 'uws', 'ws', 'socketio'],
  connect: ['switchboard', 'uws', 'ws', 'socketio'],
  'connect-integration': ['switchboard-connect'],
  cluster: ['switchboard-cluster'],
  'http-echo': ['switchboard-http', 'relay-http'],
  'http-connect': ['switchboard-http', 'relay-http'],
};

/** uWebSockets.js ships binaries for some Node ABIs only; where it has none the harness leaves its stack out. */
const UWS_HERE = existsSync(path.join(root, 'node_modules/@trufflesuite/uws-js-unofficial/binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));
const expectedStacks = (stacks: string[]): string[] => (UWS_HERE ? stacks : stacks.filter((stack) => stack !== 'uws'));

interface SmokeReport {
  errors: unknown[];
  lossCheck: { ok: boolean; lost: number };
  machine: { cpu: string; cores: number };
  versions: Record<string, string>;
  figures: Record<string, { stacks: Record<string, { median: number; lost: number; secondary: Record<string, { median: number }> }> }>;
  targets: { label: string; status: string }[];
  notMeasurable: { scenario: string }[];
  httpIntegrations: { scenario: string; stack: string; ratioToRelay: number; cpu: { server: number; backend: number; loadGenerator: number }; addedP50Target?: { ms: number } }[];
}

function runSmoke(out: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bench/run.js', '--smoke', '--out', out], { cwd: root, timeout: 55_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, output: `${stdout}\n${stderr}` });
    });
  });
}

describe('benchmark harness smoke run', () => {
  it(
    'measures every stack in every scenario, loses nothing, and writes JSON, Markdown and SVG naming the machine',
    async () => {
      expect(existsSync(path.join(root, 'dist/src/index.js')), 'npm run build first: the bench drives dist/').toBe(true);
      const out = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-smoke-'));
      try {
        const { code, output } = await runSmoke(out);
        expect(code, output).toBe(0);
        const report = JSON.parse(readFileSync(path.join(out, 'smoke.json'), 'utf8')) as SmokeReport;
        expect(report.errors).toEqual([]);
        expect(report.lossCheck).toMatchObject({ ok: true, lost: 0 });
        for (const [scenario, all] of Object.entries(EXPECTED)) {
          const stacks = expectedStacks(all);
          const figure = report.figures[scenario];
          expect(figure, scenario).toBeDefined();
          expect(Object.keys(figure!.stacks).sort(), scenario).toEqual([...stacks].sort());
          for (const stack of stacks) {
            const entry = figure!.stacks[stack]!;
            expect(Number.isFinite(entry.median), `${scenario}/${stack}`).toBe(true);
            expect(entry.lost, `${scenario}/${stack}`).toBe(0);
          }
        }
        // At smoke size a reference can measure 0 (memory), which decides nothing.
        for (const target of report.targets) {
          const againstAbsentUws = !UWS_HERE && target.label.includes('uWS');
          expect(againstAbsentUws ? ['not measured'] : ['met', 'missed', 'inconclusive'], target.label).toContain(target.status);
        }
        expect(report.notMeasurable).toEqual([]);
        expect(report.figures.cluster!.stacks['switchboard-cluster']!.secondary.p99, 'cluster latency').toBeDefined();
        expect(Number.isFinite(report.figures['http-echo']!.stacks['switchboard-http']!.secondary.addedP50?.median), 'added latency over the backend').toBe(true);
        // The HTTP integrations side by side: each stack against the relay, with the CPU of all three processes.
        const http = report.httpIntegrations.map((row) => `${row.scenario}/${row.stack}`).sort();
        expect(http).toEqual(['http-connect/relay-http', 'http-connect/switchboard-http', 'http-echo/relay-http', 'http-echo/switchboard-http']);
        for (const row of report.httpIntegrations) {
          expect(Number.isFinite(row.ratioToRelay), `${row.scenario}/${row.stack} ratio`).toBe(true);
          expect([row.cpu.server, row.cpu.backend, row.cpu.loadGenerator].every(Number.isFinite), `${row.scenario}/${row.stack} CPU`).toBe(true);
          expect(row.addedP50Target?.ms).toBe(0.2);
        }
        expect(report.machine.cores).toBeGreaterThan(0);
        expect(Object.keys(report.versions)).toEqual(expect.arrayContaining(['switchboard', 'ws', 'socket.io', '@trufflesuite/uws-js-unofficial']));

        const markdown = readFileSync(path.join(out, 'smoke.md'), 'utf8');
        expect(markdown).toContain(report.machine.cpu);
        expect(markdown).toContain('Switchboard, 2 nodes + Redis');
        expect(markdown).toContain('## HTTP integrations against the hand-written relay');
        expect(markdown).toMatch(/\| http-echo \| \*\*Switchboard, http integrations\*\* \|.*\(target < 0\.2 ms: (met|missed)\)/);
        const svg = readFileSync(path.join(out, 'smoke.svg'), 'utf8');
        expect(svg.startsWith('<svg')).toBe(true);
        expect(svg).toContain(report.machine.cpu);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
