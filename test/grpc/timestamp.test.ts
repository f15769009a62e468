import { describe, expect, it } from 'vitest';
import { timestampOf } from '../../src/grpc/index.js';

describe('timestampOf: RFC 3339 to google.protobuf.Timestamp', () => {
  it('keeps milliseconds, as the clock formats them', () => {
    expect(timestampOf('2026-11-22T11:40:14.123Z')).toEqual({ seconds: String(Date.UTC(2026, 10, 22, 11, 40, 14) / 1000), nanos: 123_000_000 });
  });

  it('keeps every one of nine fraction digits and reads none as zero', () => {
    expect(timestampOf('2026-11-22T11:40:14.123456789Z').nanos).toBe(123_456_789);
    expect(timestampOf('2026-11-22T11:40:14Z').nanos).toBe(0);
    expect(timestampOf('2026-11-22T11:40:14.5Z').nanos).toBe(500_000_000);
  });

  it('applies an offset and covers the seeds\' whole range', () => {
    expect(timestampOf('2026-11-22T12:40:14+01:00').seconds).toBe(timestampOf('2026-11-22T11:40:14Z').seconds);
    expect(timestampOf('0001-01-01T00:00:00Z')).toEqual({ seconds: '-62135596800', nanos: 0 });
    expect(timestampOf('9999-12-31T23:59:59.999999999Z')).toEqual({ seconds: '253402300799', nanos: 999_999_999 });
  });

  it('a malformed record time is an INTERNAL error, not a wrong answer', () => {
    expect(() => timestampOf('yesterday')).toThrow(expect.objectContaining({ kind: 'INTERNAL' }));
  });
});
