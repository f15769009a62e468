/**
 * The NATS connection as the backplane's parts share it: whether it is up, and a guard that
 * makes every call fail fast with UNAVAILABLE while it is down. The client buffers outbound
 * traffic during a reconnect and would let a call sit until its own timeout; the guard
 * rejects calls made while disconnected at once, and calls in flight when the connection
 * drops at the moment it drops.
 */
import type { JetStreamClient, JetStreamManager, KV, NatsConnection } from 'nats';
import { isSwitchboardError, Unavailable, type SwitchboardError } from '../errors/index.js';

/** JetStream's "wrong last sequence": an optimistic write lost a race. */
export const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's "stream not found". */
export const STREAM_NOT_FOUND = 10059;

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  nodes: KV;
  epochs: KV;
  idempotency: KV;
}

export class NatsLink {
  private current: NatsHandles | undefined;
  private up = false;
  private readonly aborts = new Set<(err: Error) => void>();

  constructor(readonly name: string) {}

  get healthy(): boolean {
    return this.up && this.current !== undefined;
  }

  /** Calls waiting on the connection now. */
  get pending(): number {
    return this.aborts.size;
  }

  /** The connection and JetStream handles; UNAVAILABLE while there are none or they are down. */
  get handles(): NatsHandles {
    if (!this.healthy) throw this.unavailable();
    return this.current!;
  }

  attach(handles: NatsHandles): void {
    this.current = handles;
    this.up = true;
  }

  detach(reason: Error = this.unavailable()): void {
    this.current = undefined;
    this.markDown(reason);
  }

  markUp(): void {
    this.up = true;
  }

  /** The connection dropped: everything waiting on it fails now rather than at its timeout. */
  markDown(reason: Error = this.unavailable()): void {
    this.up = false;
    const aborts = [...this.aborts];
    this.aborts.clear();
    for (const abort of aborts) abort(reason);
  }

  unavailable(detail?: string): Unavailable {
    return new Unavailable(`backplane ${this.name} unavailable${detail === undefined ? '' : `: ${detail}`}`);
  }

  /**
   * Runs one call against the connection. Rejects at once while disconnected, and with
   * UNAVAILABLE as soon as the connection drops under it; the call's own outcome otherwise,
   * untranslated, so callers can tell a lost race from an outage.
   */
  guard<T>(call: (handles: NatsHandles) => Promise<T>): Promise<T> {
    let handles: NatsHandles;
    try {
      handles = this.handles;
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const abort = (err: Error): void => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      this.aborts.add(abort);
      call(handles).then(
        (value) => {
          this.aborts.delete(abort);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (err: unknown) => {
          this.aborts.delete(abort);
          if (settled) return;
          settled = true;
          reject(err as Error);
        },
      );
    });
  }

  /** What a caller above the seam sees: our own errors as they are, anything else as UNAVAILABLE. */
  translate(err: unknown): SwitchboardError {
    if (isSwitchboardError(err)) return err;
    return this.unavailable(err instanceof Error ? err.message : String(err));
  }
}

/** The JetStream API error code carried by a NATS error, if any. */
export function apiErrorCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const apiError = (err as { api_error?: { err_code?: number } }).api_error;
  return apiError?.err_code;
}

/**
 * Housekeeping that no caller waits for (trimming history, deleting a read's consumer):
 * tracked so stop() can let it finish instead of leaving it to a closed connection.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  run(task: () => Promise<unknown>): void {
    const promise = task()
      .catch(this.onError)
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  /** Waits for what is running, at most `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
    clearTimeout(timer);
  }
}
