/**
 * Topic settings lookup: the first `topics[]` entry whose glob matches a topic name.
 * Lookups happen on every subscribe and publish, so patterns are compiled once per settings
 * list and answers are cached per topic name.
 */
import type { TopicSettings } from './types.js';

/** Topic names looked up per settings list before the oldest answers are forgotten. */
const CACHE_LIMIT = 10_000;

/** A glob split at its `*`s: `*:chat.*` → ['', ':chat.', '']. */
export type CompiledGlob = readonly string[];
type CompiledPattern = CompiledGlob;

const PLACEHOLDERS = /\{(tenantId|userId)\}/g;

/**
 * A glob compiled for `globMatches`. With `bindings`, `{tenantId}` and `{userId}` become the
 * connection's values, literally: the pattern is split at its `*`s first, so a `*` inside a
 * user id is a character to match, never a wildcard. Without, they match like `*`.
 */
export function compileGlob(pattern: string, bindings?: { tenantId?: string | undefined; userId?: string | undefined }): CompiledGlob {
  if (bindings === undefined) return pattern.replace(PLACEHOLDERS, '*').split('*');
  // A binding the connection lacks can match nothing: NUL never occurs in a topic name.
  return pattern.split('*').map((piece) => piece.replace(PLACEHOLDERS, (_, name: 'tenantId' | 'userId') => bindings[name] ?? '\u0000'));
}

/** Whether `topic` matches a compiled glob. */
export function globMatches(glob: CompiledGlob, topic: string): boolean {
  return matches(glob, topic);
}

/**
 * Whether `topic` matches a glob where `*` stands for any run of characters (':' and '.'
 * included) and everything else is literal. Leftmost matching of each middle piece is enough
 * for `*`-only globs, so this is linear in the topic's length, with no regular expression.
 */
function matches(pieces: CompiledPattern, topic: string): boolean {
  const first = pieces[0] ?? '';
  if (pieces.length === 1) return topic === first;
  const last = pieces[pieces.length - 1] ?? '';
  if (topic.length < first.length + last.length || !topic.startsWith(first) || !topic.endsWith(last)) return false;
  let position = first.length;
  const end = topic.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] ?? '';
    const found = topic.indexOf(piece, position);
    if (found < 0 || found + piece.length > end) return false;
    position = found + piece.length;
  }
  return true;
}

/** The settings list compiled for lookups. */
export interface TopicSettingsMatcher {
  settingsFor(topic: string): TopicSettings | undefined;
}

export function compileTopicPatterns(topics: readonly TopicSettings[]): TopicSettingsMatcher {
  const compiled = topics.map((settings) => ({ settings, pieces: compileGlob(settings.pattern) }));
  const cache = new Map<string, TopicSettings | null>();
  return {
    settingsFor(topic: string): TopicSettings | undefined {
      const cached = cache.get(topic);
      if (cached !== undefined) return cached ?? undefined;
      const found = compiled.find((entry) => matches(entry.pieces, topic))?.settings;
      // Forget the oldest answer first (a Map iterates in insertion order): memory stays
      // bounded however many distinct topics clients invent.
      if (cache.size >= CACHE_LIMIT) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(topic, found ?? null);
      return found;
    },
  };
}

/** Matchers per settings list, so callers may pass the same array on every call. */
const matchers = new WeakMap<readonly TopicSettings[], TopicSettingsMatcher>();

/**
 * The settings of the first entry whose pattern matches `topic`, or undefined (no history,
 * no presence). The list is compiled on first use; it must not be mutated afterwards.
 */
export function topicSettingsFor(topics: readonly TopicSettings[], topic: string): TopicSettings | undefined {
  if (topics.length === 0) return undefined;
  let matcher = matchers.get(topics);
  if (matcher === undefined) {
    matcher = compileTopicPatterns(topics);
    matchers.set(topics, matcher);
  }
  return matcher.settingsFor(topic);
}
