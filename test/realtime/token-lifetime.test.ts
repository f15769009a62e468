import { describe, expect, it } from 'vitest';
import type { ClientSession } from '../../src/edge/index.js';
import { TokenLifetimes } from '../../src/realtime/index.js';
import { systemClock } from '../../src/time/index.js';

const session = (id: string): ClientSession => ({ record: { id } }) as unknown as ClientSession;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const activeTimeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

function recorder(): { events: string[]; lifetimes: TokenLifetimes } {
  const events: string[] = [];
  const lifetimes = new TokenLifetimes(150, systemClock, {
    refreshRequired: (s, expiresAt) => events.push(`notice ${s.record.id} ${expiresAt}`),
    expired: (s) => events.push(`expired ${s.record.id}`),
  });
  return { events, lifetimes };
}

describe('token lifetimes', () => {
  it('asks for a refresh noticeMs before exp, once, and reports the expiry at exp', async () => {
    const { events, lifetimes } = recorder();
    const exp = (Date.now() + 300) / 1000;
    lifetimes.start(session('a'), { exp });
    expect(lifetimes.armedTimers).toBe(1);
    await sleep(200);
    expect(events).toEqual([`notice a ${exp * 1000}`]);
    await sleep(200);
    expect(events).toEqual([`notice a ${exp * 1000}`, 'expired a']);
    expect(lifetimes.size).toBe(0);
    expect(lifetimes.armedTimers).toBe(0);
  });

  it('a replaced token moves both moments; a token without exp arms nothing', async () => {
    const { events, lifetimes } = recorder();
    lifetimes.start(session('a'), { exp: (Date.now() + 200) / 1000 });
    await sleep(100);
    expect(events).toHaveLength(1);
    const later = (Date.now() + 400) / 1000;
    expect(lifetimes.replace('a', { exp: later })).toEqual({ expiresAt: later * 1000 });
    await sleep(200);
    expect(events).toHaveLength(1);
    expect(lifetimes.replace('a', { sub: 'no-exp' })).toEqual({ expiresAt: undefined });
    expect(lifetimes.armedTimers).toBe(0);
    await sleep(300);
    expect(events).toHaveLength(1);
    expect(lifetimes.replace('gone', { exp: later })).toBe(false);
    lifetimes.stop('a');
  });

  it('holds one timer per connection at most, and none once connections go (soak)', async () => {
    const { events, lifetimes } = recorder();
    const before = activeTimeouts();
    const exp = (Date.now() + 3_600_000) / 1000;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2000; i++) lifetimes.start(session(`c${i}`), { exp });
      // Refreshing replaces the timer rather than adding one.
      for (let i = 0; i < 2000; i += 2) lifetimes.replace(`c${i}`, { exp: exp + 60 });
      expect(lifetimes.size).toBe(2000);
      expect(lifetimes.armedTimers).toBe(2000);
      expect(activeTimeouts() - before).toBeLessThanOrEqual(2000);
      for (let i = 0; i < 2000; i++) lifetimes.stop(`c${i}`);
      expect(lifetimes.size).toBe(0);
      expect(activeTimeouts()).toBe(before);
    }
    expect(events).toEqual([]);
  });
});
