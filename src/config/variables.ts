/**
 * `${VAR}` substitution in the settings file, and the check that every variable it references
 * is set before any value is read.
 */
import { ConfigError } from '../errors/index.js';
import { childPath, isMapping, itemPath } from './yaml-fields.js';

export type Environment = Record<string, string | undefined>;

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${VAR}` with the environment's value; `$${` stays a literal `${`. Only the
 * braced form is recognised, so secrets that happen to contain `$` are left alone.
 */
export function expandVariables(text: string, env: Environment, fail: (problem: string) => never): string {
  if (!text.includes('${')) return text;
  let result = '';
  let position = 0;
  for (;;) {
    const start = text.indexOf('${', position);
    if (start < 0) break;
    if (start > 0 && text[start - 1] === '$') {
      result += text.slice(position, start - 1) + '${';
      position = start + 2;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    if (end < 0) fail('has an unclosed "${" (write "$${" for a literal "${")');
    const name = text.slice(start + 2, end);
    if (!VARIABLE_NAME.test(name)) fail(`"\${${name}}" is not a valid environment variable reference`);
    const replacement = env[name];
    if (replacement === undefined) fail(`environment variable ${name} is not set (referenced as \${${name}})`);
    result += text.slice(position, start) + replacement;
    position = end + 1;
  }
  return result + text.slice(position);
}

/** The names of the `${VAR}` references in a text (`$${` escapes and malformed references skipped). */
function referencedVariables(text: string): string[] {
  const names: string[] = [];
  for (let start = text.indexOf('${'); start >= 0; start = text.indexOf('${', start + 2)) {
    if (start > 0 && text[start - 1] === '$') continue;
    const end = text.indexOf('}', start + 2);
    if (end < 0) break;
    const name = text.slice(start + 2, end);
    if (VARIABLE_NAME.test(name)) names.push(name);
  }
  return names;
}

/** Each unset variable a settings tree references, with the key paths that reference it. */
function unsetVariables(tree: unknown, env: Environment, path = '', found = new Map<string, string[]>()): Map<string, string[]> {
  if (typeof tree === 'string') {
    for (const name of referencedVariables(tree)) {
      if (env[name] !== undefined) continue;
      const paths = found.get(name) ?? [];
      if (!paths.includes(path)) paths.push(path);
      found.set(name, paths);
    }
  } else if (Array.isArray(tree)) {
    tree.forEach((entry, index) => unsetVariables(entry, env, itemPath(path, index), found));
  } else if (isMapping(tree)) {
    for (const [key, value] of Object.entries(tree)) unsetVariables(value, env, childPath(path, key), found);
  }
  return found;
}

/**
 * Reports every unset `${VAR}` of a settings file in one error, each with the key it is for,
 * so a start needs one round of exports rather than one failed try per variable.
 */
export function checkVariablesSet(document: unknown, env: Environment, file: string, rootKeys: readonly string[]): void {
  if (!isMapping(document)) return;
  // Unknown root keys are left to the reader, whose error names them as such.
  const known = Object.entries(document).filter(([key]) => rootKeys.includes(key));
  const unset = [...unsetVariables(Object.fromEntries(known), env)];
  const [first, ...others] = unset;
  if (!first) return;
  const [name, paths] = first;
  let problem = `environment variable ${name} is not set (referenced as \${${name}}${paths.length > 1 ? `, also in ${paths.slice(1).join(', ')}` : ''})`;
  if (others.length > 0) {
    problem += `; also not set: ${others.map(([other, otherPaths]) => `${other} (${otherPaths.join(', ')})`).join(', ')}`;
  }
  throw new ConfigError(file, paths[0]!, problem);
}
