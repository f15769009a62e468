import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { chooseLogFormat, createLogger, formatPrettyLine } from '../../src/observability/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'switchboard.js');

function capture(): { lines: string[]; write(text: string): void } {
  const lines: string[] = [];
  return { lines, write: (text: string) => void lines.push(text) };
}

describe('pretty log lines', () => {
  it('read as time, level, message and key=value extras', () => {
    const time = new Date(2026, 0, 2, 13, 2, 11, 123).getTime();
    const line = formatPrettyLine(JSON.stringify({ level: 30, time, service: 'switchboard', msg: 'switchboard node started', client: '0.0.0.0:8080', gateways: ['demo'], note: 'two words' }));
    expect(line).toBe('13:02:11.123 INFO  switchboard node started client=0.0.0.0:8080 gateways=["demo"] note="two words"\n');
    expect(formatPrettyLine(JSON.stringify({ level: 40, time, msg: 'careful' }))).toBe('13:02:11.123 WARN  careful\n');
  });

  it('show an error by its message, its stack indented below', () => {
    const err = new Error('boom');
    const line = formatPrettyLine(JSON.stringify({ level: 50, time: Date.now(), msg: 'drain failed', err: { type: 'Error', message: err.message, stack: err.stack } }));
    const [first, second] = line.split('\n');
    expect(first).toMatch(/ ERROR drain failed err=boom$/);
    expect(second).toMatch(/^ {4}at /);
  });

  it('pass a line that is not JSON through unchanged', () => {
    expect(formatPrettyLine('not json')).toBe('not json\n');
  });

  it('come from createLogger with format pretty, still redacting secrets', () => {
    const out = capture();
    const log = createLogger('info', out, 'pretty');
    log.info({ authorization: 'Bearer sekrit', listen: '127.0.0.1:8081' }, 'hello');
    log.debug('not at info');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello authorization=\[redacted\] listen=127\.0\.0\.1:8081\n$/);
  });

  it('are JSON with format json', () => {
    const out = capture();
    createLogger('info', out, 'json').info({ listen: 'x' }, 'hello');
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ level: 30, msg: 'hello', listen: 'x' });
  });
});

describe('choosing the log format', () => {
  it('auto (or nothing) means pretty on a terminal and JSON otherwise; an explicit choice wins', () => {
    expect(chooseLogFormat(undefined, true)).toBe('pretty');
    expect(chooseLogFormat('auto', false)).toBe('json');
    expect(chooseLogFormat('json', true)).toBe('json');
    expect(chooseLogFormat('pretty', false)).toBe('pretty');
  });

  const dir = mkdtempSync(join(tmpdir(), 'sb-logformat-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read from log.format, SWITCHBOARD_LOG_FORMAT and --log-format, in that order of precedence', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'log: {level: info, format: json}\n');
    expect(loadSettings({ flags: {}, env: {} }).log.format).toBeUndefined();
    expect(loadSettings({ configFile: file, flags: {}, env: {} }).log.format).toBe('json');
    expect(loadSettings({ configFile: file, flags: {}, env: { SWITCHBOARD_LOG_FORMAT: 'pretty' } }).log.format).toBe('pretty');
    expect(loadSettings({ configFile: file, flags: { logFormat: 'auto' }, env: { SWITCHBOARD_LOG_FORMAT: 'pretty' } }).log.format).toBe('auto');
  });

  it('refuses an unknown format, naming where it came from', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'log: {format: fancy}\n');
    expect(() => loadSettings({ configFile: file, flags: {}, env: {} })).toThrow(new ConfigError(file, 'log.format', 'must be one of auto, json, pretty, got "fancy"'));
    expect(() => loadSettings({ flags: {}, env: { SWITCHBOARD_LOG_FORMAT: 'xml' } })).toThrow(/SWITCHBOARD_LOG_FORMAT: log\.format: must be one of/);
  });

  it('start --log-format pretty logs readable lines even when stdout is not a terminal', async () => {
    const child = spawn(process.execPath, [BIN, 'start', '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0', '--log-format', 'pretty'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('switchboard node started') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const started = out.split('\n').find((line) => line.includes('switchboard node started'));
    expect(started, out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}switchboard node started nodeId=\S+ client=127\.0\.0\.1:\d+ management=127\.0\.0\.1:\d+ gateways=\["demo"\]$/);
    expect(out).not.toContain('"level"');
  }, 30_000);
});
