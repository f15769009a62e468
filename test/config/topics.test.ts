import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTopicPatterns, topicSettingsFor, type TopicSettings } from '../../src/config/index.js';

function topic(pattern: string, historySize = 0): TopicSettings {
  return { pattern, historySize, historyTtlSeconds: 300, presence: false, joinLeave: false };
}

/** The meaning of a pattern, spelled as a regular expression, to check the matcher against. */
function referenceMatch(pattern: string, name: string): boolean {
  const source = pattern
    .split('*')
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${source}$`).test(name);
}

describe('topicSettingsFor', () => {
  const chat = topic('*:chat.*', 100);
  const ticker = topic('acme:ticker');
  const everything = topic('*');
  const topics = [chat, ticker, everything];

  it('returns the first entry whose pattern matches', () => {
    expect(topicSettingsFor(topics, 'acme:chat.lobby')).toBe(chat);
    expect(topicSettingsFor(topics, 'acme:ticker')).toBe(ticker);
    expect(topicSettingsFor(topics, 'acme:news')).toBe(everything);
    expect(topicSettingsFor([everything, chat], 'acme:chat.lobby')).toBe(everything);
  });

  it('lets * match any run of characters, ":" and "." included, or none', () => {
    expect(topicSettingsFor([chat], 'a:b:chat.x.y')).toBe(chat);
    expect(topicSettingsFor([chat], ':chat.')).toBe(chat);
    expect(topicSettingsFor([chat], 'acme:chat')).toBeUndefined();
    expect(topicSettingsFor([chat], 'acme:chatter.x')).toBeUndefined();
  });

  it('takes every other character literally', () => {
    const dotted = topic('a.b+c?');
    expect(topicSettingsFor([dotted], 'a.b+c?')).toBe(dotted);
    expect(topicSettingsFor([dotted], 'aXb+c?')).toBeUndefined();
    expect(topicSettingsFor([dotted], 'a.bbc')).toBeUndefined();
    expect(topicSettingsFor([topic('x')], 'x:y')).toBeUndefined();
  });

  it('does not let the prefix and the suffix overlap', () => {
    expect(topicSettingsFor([topic('ab*ba')], 'aba')).toBeUndefined();
    expect(topicSettingsFor([topic('ab*ba')], 'abba')).toBeDefined();
  });

  it('returns undefined with no settings or no match', () => {
    expect(topicSettingsFor([], 'acme:chat.lobby')).toBeUndefined();
    expect(topicSettingsFor([ticker], 'other:ticker')).toBeUndefined();
  });

  it('keeps answering correctly past the cache bound', () => {
    const matcher = compileTopicPatterns(topics);
    let wrong = 0;
    for (let i = 0; i < 25_000; i++) {
      const found = matcher.settingsFor(i % 2 === 0 ? `t${i}:chat.room` : `t${i}:ticker`);
      if (found !== (i % 2 === 0 ? chat : everything)) wrong++;
    }
    expect(wrong).toBe(0);
    expect(matcher.settingsFor('t0:chat.room')).toBe(chat);
  });

  it('agrees with the regular-expression meaning of the glob', () => {
    const alphabet = fc.constantFrom('a', 'b', ':', '.', '*');
    const pattern = fc.array(alphabet, { maxLength: 8 }).map((chars) => chars.join(''));
    const name = fc.array(fc.constantFrom('a', 'b', ':', '.'), { maxLength: 12 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(pattern, name, (glob, topicName) => {
        const settings = topic(glob);
        expect(compileTopicPatterns([settings]).settingsFor(topicName) === settings).toBe(referenceMatch(glob, topicName));
      }),
      { numRuns: 2000 },
    );
  });
});
