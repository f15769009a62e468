/**
 * The life of a realtime connection's token (README, "Token refresh"): `refresh_required` a
 * configured time before `exp`, closed with 4401 `token expired` when `exp` passes without a
 * `refresh`. One timer per connection at most, replaced on refresh and cleared when it goes.
 */
import type { RealtimeSession } from './session.js';
import type { Clock } from '../time/index.js';

/** setTimeout's longest delay (2^31-1 ms, about 24.8 days); a later `exp` is reached in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export interface TokenLifetimeHandlers {
  /** The token expires at `expiresAt` (ms): ask the client for a new one. */
  refreshRequired(session: RealtimeSession, expiresAt: number): void;
  /** `exp` passed unrefreshed. */
  expired(session: RealtimeSession): void;
}

interface HeldToken {
  readonly session: RealtimeSession;
  claims: Readonly<Record<string, unknown>>;
  /** `exp` in ms; undefined when the token has none (it never expires here). */
  expiresAt: number | undefined;
  noticeSent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The tokens of a node's realtime connections, by connection id. */
export class TokenLifetimes {
  private readonly held = new Map<string, HeldToken>();

  constructor(
    private readonly noticeMs: number,
    private readonly clock: Clock,
    private readonly handlers: TokenLifetimeHandlers,
  ) {}

  /** Connections holding a token (and at most one timer each): what a leak check counts. */
  get size(): number {
    return this.held.size;
  }

  /** Timers armed now; never more than `size`. */
  get armedTimers(): number {
    let armed = 0;
    for (const token of this.held.values()) if (token.timer !== undefined) armed++;
    return armed;
  }

  start(session: RealtimeSession, claims: Readonly<Record<string, unknown>>): void {
    const token: HeldToken = { session, claims, expiresAt: expiryOf(claims), noticeSent: false, timer: undefined };
    this.held.set(session.record.id, token);
    this.arm(token);
  }

  claimsOf(connectionId: string): Readonly<Record<string, unknown>> | undefined {
    return this.held.get(connectionId)?.claims;
  }

  /** Whether the connection was opened with a token (only those may refresh). */
  holds(connectionId: string): boolean {
    return this.held.has(connectionId);
  }

  /** A refreshed token replaces the old one; its expiry (ms) is returned. False: the connection has gone meanwhile. */
  replace(connectionId: string, claims: Readonly<Record<string, unknown>>): { expiresAt: number | undefined } | false {
    const token = this.held.get(connectionId);
    if (token === undefined) return false;
    token.claims = claims;
    token.expiresAt = expiryOf(claims);
    token.noticeSent = false;
    this.arm(token);
    return { expiresAt: token.expiresAt };
  }

  stop(connectionId: string): void {
    const token = this.held.get(connectionId);
    if (token === undefined) return;
    if (token.timer !== undefined) clearTimeout(token.timer);
    this.held.delete(connectionId);
  }

  /** Sets the connection's one timer for its next moment: the notice, or the expiry. */
  private arm(token: HeldToken): void {
    if (token.timer !== undefined) clearTimeout(token.timer);
    token.timer = undefined;
    const expiresAt = token.expiresAt;
    if (expiresAt === undefined) return;
    const next = token.noticeSent ? expiresAt : expiresAt - this.noticeMs;
    const delay = Math.min(Math.max(0, next - this.clock.now()), MAX_TIMER_MS);
    token.timer = setTimeout(() => this.fire(token), delay);
    // A token's timer alone must not keep a process (or a test worker) alive.
    token.timer.unref?.();
  }

  private fire(token: HeldToken): void {
    token.timer = undefined;
    if (this.held.get(token.session.record.id) !== token || token.expiresAt === undefined) return;
    const now = this.clock.now();
    if (now >= token.expiresAt) {
      this.stop(token.session.record.id);
      this.handlers.expired(token.session);
      return;
    }
    if (!token.noticeSent && now >= token.expiresAt - this.noticeMs) {
      token.noticeSent = true;
      this.handlers.refreshRequired(token.session, token.expiresAt);
    }
    this.arm(token);
  }
}

/** A JWT's `exp` (NumericDate, seconds) in ms. */
function expiryOf(claims: Readonly<Record<string, unknown>>): number | undefined {
  const exp = claims.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}
