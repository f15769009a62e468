import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REALTIME = join(import.meta.dirname, '../../src/realtime');

describe('the realtime folder', () => {
  it('never imports the edge: the edge implements RealtimeSession, not the reverse', () => {
    const offenders = readdirSync(REALTIME)
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => /from\s+'\.\.\/edge\//.test(readFileSync(join(REALTIME, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
