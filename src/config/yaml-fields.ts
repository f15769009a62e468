/**
 * Reading parsed YAML (or JSON) documents: the parser's entry, and typed field readers whose
 * errors name the file, the key path and what was found. The settings file and gateway specs
 * both read through these.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, fileReadProblem } from '../errors/index.js';
import { normalizeOriginPattern } from './origins.js';


/**
 * Parses one YAML (or JSON) document. Syntax errors name the line and column, because a
 * path cannot be given for text that did not parse.
 */
export function parseYamlText(text: string, source: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first] = document.errors;
  if (first) {
    const position = first.linePos?.[0];
    const where = position ? `line ${position.line}, column ${position.col}` : '';
    // The pretty message repeats the position and appends a code frame; keep the sentence.
    const sentence = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? first.message;
    throw new ConfigError(source, where, `YAML syntax error: ${sentence}`);
  }
  try {
    return document.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    // Aliases are resolved here, not while parsing: an alias without its anchor, or one
    // expanding past maxAliasCount, throws a ReferenceError that must not escape as such.
    throw new ConfigError(source, '', `YAML error: ${(err as Error).message}`);
  }
}

/** Reads a file's text, turning a missing or unreadable file into a ConfigError naming it. */
export function readConfigText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? `${what} not found` : `cannot read the ${what}: ${fileReadProblem(err)}`;
    throw new ConfigError(file, '', problem);
  }
}

export type YamlMapping = Record<string, unknown>;

export function isMapping(value: unknown): value is YamlMapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

export function childPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** How a found value is shown in a problem: strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (ArrayBuffer.isView(value)) return 'binary data';
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  return 'a mapping';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The allowed key `key` is a likely misspelling of (other case, or at most two edits away), if any. */
export function closeKey(key: string, allowed: readonly string[]): string | undefined {
  return allowed.find((candidate) => candidate.toLowerCase() === key.toLowerCase() || editDistance(candidate, key) <= 2);
}

/** `unknown key "limts" (did you mean "limits"?)`, or the allowed keys when none is close. */
function unknownKeyProblem(key: string, allowed: readonly string[]): string {
  const close = closeKey(key, allowed);
  return close ? `unknown key "${key}" (did you mean "${close}"?)` : `unknown key "${key}"; allowed keys: ${allowed.join(', ')}`;
}

export interface StringOptions {
  /** Never echo the value in a problem (API keys, secrets). */
  secret?: boolean;
}

/**
 * Typed readers over a parsed YAML tree. Each returns undefined for an absent or null value
 * (an empty YAML value means "use the default"); `required` turns that into an error.
 * `expand` is applied to every string read (the settings file's `${VAR}` substitution).
 */
export class FieldReader {
  constructor(
    readonly source: string,
    private readonly expand: (text: string, path: string) => string = (text) => text,
  ) {}

  fail(path: string, problem: string): never {
    throw new ConfigError(this.source, path, problem);
  }

  required<T>(value: T | undefined, path: string, hint = ''): T {
    if (value === undefined) this.fail(path, `is required${hint ? `: ${hint}` : ''}`);
    return value;
  }

  /** A mapping whose keys must all be in `allowedKeys` (when given), so typos are caught. */
  mapping(value: unknown, path: string, allowedKeys?: readonly string[]): YamlMapping | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isMapping(value)) this.fail(path, `must be a mapping, got ${describeValue(value)}`);
    if (allowedKeys) {
      for (const key of Object.keys(value)) {
        if (!allowedKeys.includes(key)) this.fail(childPath(path, key), unknownKeyProblem(key, allowedKeys));
      }
    }
    return value;
  }

  list(value: unknown, path: string): unknown[] | undefined {
    if (value === null || value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(path, `must be a list, got ${describeValue(value)}`);
    return value;
  }

  string(value: unknown, path: string, options: StringOptions = {}): string | undefined {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string') {
      const found = options.secret && typeof value !== 'object' ? `a ${typeof value} (value hidden)` : describeValue(value);
      this.fail(path, `must be a string, got ${found}`);
    }
    const text = this.expand(value, path);
    if (text.length === 0) this.fail(path, 'must not be empty');
    return text;
  }

  /**
   * An integer within bounds. A string of digits is accepted too, so `${VAR}` can supply
   * numbers (substitution always yields a string).
   */
  integer(value: unknown, path: string, min: number, max?: number): number | undefined {
    if (value === null || value === undefined) return undefined;
    const range = max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    let number: number | undefined;
    if (typeof found === 'number') number = found;
    else if (typeof found === 'string' && /^\d+$/.test(found)) number = Number(found);
    if (number === undefined || !Number.isSafeInteger(number) || number < min || (max !== undefined && number > max)) {
      this.fail(path, `must be an integer ${range}, got ${describeValue(found)}`);
    }
    return number;
  }

  /** A number (fractions allowed) greater than `exclusiveMin` and at most `max`. */
  number(value: unknown, path: string, exclusiveMin: number, max: number): number | undefined {
    if (value === null || value === undefined) return undefined;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    let number: number | undefined;
    if (typeof found === 'number') number = found;
    else if (typeof found === 'string' && /^\d+(\.\d+)?$/.test(found)) number = Number(found);
    if (number === undefined || !Number.isFinite(number) || number <= exclusiveMin || number > max) {
      this.fail(path, `must be a number > ${exclusiveMin} and ≤ ${max}, got ${describeValue(found)}`);
    }
    return number;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === null || value === undefined) return undefined;
    const found = typeof value === 'string' ? this.expand(value, path).trim() : value;
    if (found === true || found === 'true') return true;
    if (found === false || found === 'false') return false;
    this.fail(path, `must be true or false, got ${describeValue(found)}`);
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      this.fail(path, `must be one of ${allowed.join(', ')}, got ${describeValue(text)}`);
    }
    return text as T;
  }

  /** A mapping of strings to strings (HTTP headers and the like). */
  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    const map = this.mapping(value, path);
    if (map === undefined) return undefined;
    const result: Record<string, string> = {};
    for (const [key, entry] of Object.entries(map)) {
      const entryPath = childPath(path, key);
      if (typeof entry !== 'string') this.fail(entryPath, `must be a string, got ${describeValue(entry)}`);
      result[key] = this.expand(entry, entryPath);
    }
    return result;
  }
}

/** A list of origin patterns, each normalised; shared with the gateway spec's `x-switchboard-allowed-origins`. */
export function readOrigins(f: FieldReader, value: unknown, path: string): string[] | undefined {
  const entries = f.list(value, path);
  if (entries === undefined) return undefined;
  return [
    ...new Set(
      entries.map((entry, index) => {
        const entryPath = itemPath(path, index);
        const text = f.required(f.string(entry, entryPath), entryPath);
        return normalizeOriginPattern(text, (problem) => f.fail(entryPath, problem));
      }),
    ),
  ];
}
