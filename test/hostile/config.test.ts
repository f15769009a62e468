/**
 * Hostile configuration: the shipped examples (a settings file using every feature, the demo gateway
 * spec and a spec using every integration) mutated at random — values replaced by values of
 * any type, keys deleted, renamed or added, text truncated or corrupted, written back as YAML
 * or JSON. Each must either load or throw a ConfigError that names the file and the path (or
 * the line) at fault; no other exception may escape, and a spec that loads must also compile
 * into routes.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, parseGatewaySpec } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { BackendPools, RouteTable } from '../../src/routing/index.js';
import { specYaml, http, dummy } from '../support/fixtures.js';
import { realtimeSpec } from '../realtime-e2e/support.js';
import { RUNS, timeoutFor } from './runs.js';

const root = path.resolve(import.meta.dirname, '../..');
// Every optional feature turned on, so the mutations reach every reader (the shipped example shows defaults).
const SETTINGS_TEXT = readFileSync(path.join(root, 'test/config/fixtures/every-feature.yaml'), 'utf8');
const DEMO_SPEC_TEXT = readFileSync(path.join(root, 'examples/demo-gateway.yaml'), 'utf8');
const RICH_SPEC_TEXT = specYaml({
  '/chat/{room}': {
    connect: http('http://127.0.0.1:9/connect', { method: 'POST', headers: { 'X-From': 'switchboard' }, timeouts: { connect: 2, read: 5 } }),
    selection: '$request.body.action',
    routes: { join: http('http://127.0.0.1:9/join'), $default: dummy('{"ok":true}', 200, { 'Content-Type': 'application/json' }) },
    disconnect: http('http://127.0.0.1:9/bye'),
  },
  '/plain': { message: dummy('pong') },
});
const ENV = { MGMT_KEY: 'mgmt-key-for-fuzzing', ACME_READ_KEY: 'acme-read-key-for-fuzzing', AWS_SECRET: 'aws-secret-for-fuzzing', JWT_SECRET: 'jwt-secret-for-fuzzing-32-bytes-long!!' };

type Tree = unknown;
type Step = string | number;

/** Every path into a parsed document, the root excluded. */
function pathsOf(tree: Tree, prefix: Step[] = [], out: Step[][] = []): Step[][] {
  const children: [Step, unknown][] = Array.isArray(tree) ? tree.map((child, i) => [i, child]) : tree !== null && typeof tree === 'object' ? Object.entries(tree) : [];
  for (const [step, child] of children) {
    out.push([...prefix, step]);
    pathsOf(child, [...prefix, step], out);
  }
  return out;
}

const ODD_VALUES: unknown[] = [
  null, '', ' ', 0, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53, true, 'true', [], {}, [null], { '': '' }, '${UNSET_VARIABLE}', '$${', '${', '0.0.0.0:0', '127.0.0.1:99999', '[::1]:80',
  ':8080', 'localhost', 'redis://', 'nats://x:0', 'http://', 'x'.repeat(5000), '*', '**', '\u0000', '../../../../etc/passwd', 'https://[::1', 'HS256', ['RS256', 'HS256'], 'read',
];

const value: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(...ODD_VALUES), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 30 }), fc.integer(), fc.double());

type Mutation =
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'rename'; at: number; name: string }
  | { op: 'add'; at: number; name: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), at: fc.nat(), name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('limts', 'Listen', 'spec ', '__proto__', 'constructor', 'x-yc-apigateway-integration')) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const), at: fc.nat(), name: fc.string({ maxLength: 12 }), value }) },
);

function parentAndKey(tree: Tree, at: Step[]): { parent: Record<string | number, unknown>; key: Step } | undefined {
  let node = tree as Record<string | number, unknown>;
  for (const step of at.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  return node !== null && typeof node === 'object' ? { parent: node, key: at[at.length - 1]! } : undefined;
}

function mutate(original: Tree, mutations: Mutation[]): Tree {
  const tree = structuredClone(original);
  for (const m of mutations) {
    const paths = pathsOf(tree);
    if (paths.length === 0) return tree;
    const target = parentAndKey(tree, paths[m.at % paths.length]!);
    if (target === undefined) continue;
    const { parent, key } = target;
    if (m.op === 'replace') parent[key] = m.value;
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    }
    else if (m.op === 'rename' && !Array.isArray(parent)) {
      parent[m.name] = parent[key];
      delete parent[key];
    } else if (m.op === 'add') {
      const holder = parent[key];
      if (holder !== null && typeof holder === 'object' && !Array.isArray(holder)) (holder as Record<string, unknown>)[m.name] = m.value;
    }
  }
  return tree;
}

interface Document {
  text: string;
  /** How it was made, for the failure message. */
  how: string;
}

/** Structured mutations written as YAML or JSON, or text corrupted byte-wise. */
function documents(original: string): fc.Arbitrary<Document> {
  const tree = parse(original) as Tree;
  const structured = fc
    .tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([mutations, asJson]) => {
      const mutated = mutate(tree, mutations);
      return { text: asJson ? (JSON.stringify(mutated) ?? 'null') : stringify(mutated), how: `${asJson ? 'JSON' : 'YAML'} after ${JSON.stringify(mutations).slice(0, 400)}` };
    });
  const corrupted = fc
    .tuple(fc.nat(), fc.oneof(fc.constantFrom('', ':', '- ', '\t', '{', '"', "'", '&a', '*a', '!!binary', '\n  ', '\u0000', '#', '? ', '%YAML 1.1\n'), fc.string({ maxLength: 5 })), fc.nat({ max: 40 }))
    .map(([where, insert, removed]) => {
      const at = where % (original.length + 1);
      return { text: original.slice(0, at) + insert + original.slice(at + removed), how: `text with ${JSON.stringify(insert)} at ${at}, ${removed} chars removed` };
    });
  const truncated = fc.nat().map((n) => ({ text: original.slice(0, n % (original.length + 1)), how: `truncated at ${n % (original.length + 1)}` }));
  return fc.oneof({ weight: 5, arbitrary: structured }, { weight: 2, arbitrary: corrupted }, { weight: 1, arbitrary: truncated });
}

function expectConfigError(err: unknown, source: string, how: string): ConfigError {
  if (!(err instanceof ConfigError)) throw new Error(`${how}: threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? String(err)}`);
  expect(err.source, how).toBe(source);
  expect(err.message.startsWith(`${source}: `), how).toBe(true);
  return err;
}

describe('hostile configuration files', { timeout: timeoutFor(30_000) }, () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(path.join(tmpdir(), 'switchboard-config-fuzz-'));
    copyFileSync(path.join(root, 'examples/demo-gateway.yaml'), path.join(folder, 'demo-gateway.yaml'));
  });
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('loads a mutated switchboard.yaml or throws a ConfigError naming the file and the key', async () => {
    const file = path.join(folder, 'switchboard.yaml');
    const outcomes = { loaded: 0, refused: 0 };
    fc.assert(
      fc.property(documents(SETTINGS_TEXT), ({ text, how }) => {
        writeFileSync(file, text);
        try {
          loadSettings({ configFile: file, flags: {}, env: ENV });
          outcomes.loaded++;
        } catch (err) {
          const error = expectConfigError(err, file, how);
          outcomes.refused++;
          // Only a document that is not a mapping at all is refused without a path.
          if (error.path === '') expect(error.problem, how).toMatch(/mapping|not found|empty|YAML|unknown key ""/i);
        }
      }),
      { numRuns: RUNS.settings },
    );
    expect(outcomes.loaded).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  it('refuses an alias without its anchor, or aliases past the expansion limit, with a ConfigError (found by this fuzzer)', () => {
    expect(() => parseGatewaySpec('openapi: 3.0.0\npaths: *nowhere\n', 'alias.yaml')).toThrow(ConfigError);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 6 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    expect(() => parseGatewaySpec(bomb, 'bomb.yaml')).toThrow(ConfigError);
  });

  it.each([
    ['the demo gateway spec', DEMO_SPEC_TEXT],
    ['a spec with every integration, route selection and path parameters', RICH_SPEC_TEXT],
    ['the realtime spec', realtimeSpec('http://127.0.0.1:9/forward')],
  ])('parses a mutated %s into routes, or throws a ConfigError naming the path', (_name, original) => {
    const outcomes = { loaded: 0, refused: 0 };
    const pools = new BackendPools();
    fc.assert(
      fc.property(documents(original), ({ text, how }) => {
        let spec;
        try {
          spec = parseGatewaySpec(text, 'fuzzed-spec.yaml');
        } catch (err) {
          const error = expectConfigError(err, 'fuzzed-spec.yaml', how);
          outcomes.refused++;
          if (error.path === '') expect(error.problem, how).toMatch(/mapping|not found|empty|YAML|openapi|paths|unknown key ""/i);
          return;
        }
        outcomes.loaded++;
        const table = new RouteTable([spec], pools, 1 << 20);
        for (const route of spec.routes) expect(table.match(route.path.replace(/\{[^}]+\}/g, 'x')), how).toBeDefined();
      }),
      { numRuns: RUNS.specs },
    );
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
