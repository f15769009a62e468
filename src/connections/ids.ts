import { randomFillSync } from 'node:crypto';
import { NODE_ID_PATTERN } from '../config/index.js';

/**
 * Connection ids: `<nodeId>.<22 base64url chars>` — 128 random bits make them unguessable,
 * and the node prefix lets any node route a call for an id to its owner without a lookup.
 * With node ids capped at 20 characters an id is at most 43 characters (the seeds allow 50).
 */
const ID_PATTERN = new RegExp(`^(${NODE_ID_PATTERN.source.slice(1, -1)})\\.[A-Za-z0-9_-]{22}$`);

const POOL_SIZE = 16 * 256;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomBytes16(): Buffer {
  if (poolOffset + 16 > POOL_SIZE) {
    // A fresh pool, not a refill: ids already handed out keep their slices untouched.
    pool = Buffer.allocUnsafe(POOL_SIZE);
    randomFillSync(pool);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return slice;
}

export function newConnectionId(nodeId: string): string {
  return `${nodeId}.${randomBytes16().toString('base64url')}`;
}

/** The owning node of a well-formed id, or undefined for anything else. */
export function nodeOfConnectionId(id: string): string | undefined {
  const match = ID_PATTERN.exec(id);
  return match?.[1];
}

/** The variant byte (`10` in its top bits, RFC 9562 §4.1) of each random byte, as two hex digits. */
const VARIANT_HEX = Array.from({ length: 256 }, (_, byte) => ((byte & 0x3f) | 0x80).toString(16));

/**
 * Time-ordered unique message ids in the UUIDv7 layout (RFC 9562): 48 bits of milliseconds,
 * then a per-process counter in the 12 "rand_a" bits so ids made in the same millisecond
 * still sort in order, then random bits that keep ids from different nodes apart.
 */
export class MessageIdGenerator {
  private lastMs = 0;
  private counter = 0;
  /** `xxxxxxxx-xxxx-` of the last millisecond an id was made in: most ids share it with the one before. */
  private msPrefix = '';
  private msPrefixOf = -1;

  next(nowMs: number): string {
    let ms = nowMs;
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter++;
      if (this.counter > 0xfff) {
        // Counter exhausted within one millisecond: borrow the next millisecond, stay monotonic.
        ms = this.lastMs + 1;
        this.counter = 0;
      }
    } else {
      this.counter = 0;
    }
    this.lastMs = ms;
    if (ms !== this.msPrefixOf) {
      const hexMs = ms.toString(16).padStart(12, '0');
      this.msPrefix = `${hexMs.slice(0, 8)}-${hexMs.slice(8)}-`;
      this.msPrefixOf = ms;
    }
    const rand = randomBytes16();
    // Version 7 with the counter in rand_a is always four hex digits (7000–7fff).
    const hexCounter = (0x7000 | this.counter).toString(16);
    const tail = rand.toString('hex', 1, 8);
    return `${this.msPrefix}${hexCounter}-${VARIANT_HEX[rand[0]!]!}${tail.slice(0, 2)}-${tail.slice(2)}`;
  }
}
