import { describe, expect, it } from 'vitest';
import { parseRequestTarget } from '../../src/edge/request-target.js';

function viaUrl(target: string): { pathname: string; search: string; params: string[][] } | undefined {
  if (!target.startsWith('/')) return undefined;
  try {
    const url = new URL(`http://switchboard.invalid${target}`);
    return { pathname: url.pathname, search: url.search, params: [...url.searchParams] };
  } catch {
    return undefined;
  }
}

function parsed(target: string): { pathname: string; search: string; params: string[][] } | undefined {
  const t = parseRequestTarget(target);
  return t === undefined ? undefined : { pathname: t.pathname, search: t.search, params: [...t.searchParams] };
}

describe('request target', () => {
  it('reads what WHATWG URL reads, for plain targets and for the ones that need resolving', () => {
    const cases = [
      '/', '/chat', '/chat/', '/chat/room-1', '/a//b', '/a/./b', '/a/../b', '/..', '/.', '/a/.hidden', '/a/b.json',
      '/chat?x=1', '/chat?', '/chat?a=1&b=2&a=3', '/chat?token=a.b.c~_-', '/chat?q=a+b', '/chat?q=%20x', '/chat?q=a b',
      '/chat?q="x"', '/chat?q=<x>', "/chat?q='x'", '/chat?q=é', '/chat#frag', '/chat?x=1#frag', '/caf%C3%A9', '/a%2F..%2Fb',
      '/a\\b', '/a?b?c', '/%', 'chat', '', '*', 'http://h/x', '//h/x',
    ];
    for (const target of cases) expect(parsed(target), target).toEqual(viaUrl(target));
  });

  it('reads a target that starts with // as a path, not as another host', () => {
    expect(parsed('//h/x')?.pathname).toBe('//h/x');
    expect(parsed('//h/x?a=é')?.pathname).toBe('//h/x');
  });

  it('agrees with WHATWG URL on random targets', () => {
    const alphabet = 'ab/.-_~%?=&+#;:@!$*(), "\'<>é\\2F';
    let state = 7;
    const next = (n: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    for (let i = 0; i < 5000; i++) {
      let target = '/';
      const length = next(16);
      for (let j = 0; j < length; j++) target += alphabet[next(alphabet.length)];
      expect(parsed(target), target).toEqual(viaUrl(target));
    }
  });
});
