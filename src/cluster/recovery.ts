/**
 * The recovery merge (Centrifuge's internal/recovery): a connection that resubscribes with the
 * position it last saw gets what it missed from history, then live publications, with no gap
 * and no duplicate. While its history read is in flight, live publications for it are held;
 * after, copies of publications the read already returned (they were appended before the read
 * but are still on their way here) are dropped for one request timeout.
 */
import type { ConnectionRecord } from '../connections/index.js';
import type { HistoryResult, Publication, SubscribeResult } from './hub.js';

/** A recovery whose history read is in flight: the live publications held back meanwhile. */
export interface PendingRecovery {
  record: ConnectionRecord;
  topic: string;
  held: Publication[];
}

/** After a recovery, the offset it brought the connection up to, until a deadline. */
interface RecoveredUpTo {
  offset: number;
  epoch: string;
  until: number;
}

export class RecoveryMerge {
  private readonly pending = new Set<PendingRecovery>();
  private readonly recoveredUpTo = new Map<ConnectionRecord, Map<string, RecoveredUpTo>>();
  private nextMarkSweep = 0;

  /** @param markMs how long a recovered position filters live copies: one cross-node request timeout. */
  constructor(private readonly markMs: number) {}

  /** True when no connection is recovering: delivery takes its fast path. */
  get idle(): boolean {
    return this.pending.size === 0 && this.recoveredUpTo.size === 0;
  }

  /** Starts holding live publications of the topic for the connection. */
  begin(record: ConnectionRecord, topic: string): PendingRecovery {
    const recovery: PendingRecovery = { record, topic, held: [] };
    this.pending.add(recovery);
    return recovery;
  }

  /** The history read failed: nothing is held any more. */
  abandon(recovery: PendingRecovery): void {
    this.pending.delete(recovery);
  }

  /**
   * Merges the history read with what was held meanwhile: every missed publication in order,
   * once. A recovery history could not complete returns no publications (the client must not
   * apply a partial tail before it reloads its state).
   */
  finish(recovery: PendingRecovery, since: number, missed: HistoryResult): SubscribeResult {
    this.pending.delete(recovery);
    const publications = [...missed.publications];
    // A position past the stream (another epoch's, or made up) is not one the client has seen:
    // taken as it stands, it would be marked delivered and withhold the next live publications.
    let last = publications.length > 0 ? publications[publications.length - 1]!.offset : Math.min(since, missed.offset);
    for (const held of recovery.held) {
      if (held.offset > last) {
        publications.push(held);
        last = held.offset;
      }
    }
    const offset = Math.max(missed.offset, last);
    this.mark(recovery.record, recovery.topic, { offset, epoch: missed.epoch, until: Date.now() + this.markMs });
    return { offset, epoch: missed.epoch, recovered: missed.complete, publications: missed.complete ? publications : [] };
  }

  /**
   * Whether a live publication must not go to this connection now: held for its pending
   * recovery (it will be in the merge), or already delivered by a finished one.
   */
  withholds(record: ConnectionRecord, topic: string, publication: Publication, epoch: string, now: number): boolean {
    for (const recovery of this.pending) {
      if (recovery.record === record && recovery.topic === topic) {
        recovery.held.push(publication);
        return true;
      }
    }
    return this.alreadyRecovered(record, topic, publication.offset, epoch, now);
  }

  /** At most once per mark lifetime: drops expired marks, so the fast path of delivery comes back. */
  forgetExpired(now: number): void {
    if (now < this.nextMarkSweep || this.recoveredUpTo.size === 0) return;
    this.nextMarkSweep = now + this.markMs;
    for (const [record, topics] of this.recoveredUpTo) {
      for (const [topic, upTo] of topics) if (upTo.until <= now) topics.delete(topic);
      if (topics.size === 0) this.recoveredUpTo.delete(record);
    }
  }

  /** The connection went: its marks with it. */
  forget(record: ConnectionRecord): void {
    this.recoveredUpTo.delete(record);
  }

  private mark(record: ConnectionRecord, topic: string, upTo: RecoveredUpTo): void {
    this.forgetExpired(Date.now());
    let topics = this.recoveredUpTo.get(record);
    if (topics === undefined) this.recoveredUpTo.set(record, (topics = new Map()));
    topics.set(topic, upTo);
  }

  private alreadyRecovered(record: ConnectionRecord, topic: string, offset: number, epoch: string, now: number): boolean {
    const topics = this.recoveredUpTo.get(record);
    const upTo = topics?.get(topic);
    if (topics === undefined || upTo === undefined) return false;
    if (upTo.until <= now) {
      topics.delete(topic);
      if (topics.size === 0) this.recoveredUpTo.delete(record);
      return false;
    }
    return upTo.epoch === epoch && offset <= upTo.offset;
  }
}
