/**
 * The nodes this node believes live, which a fan-out batch waits for: read from the liveness
 * bucket every beat and after a reconnect, and updated at once by the join and leave
 * announcements that ride the fan-out subject (nats-fanout.ts).
 */
import type { Membership } from './nats-fanout.js';

export class NatsMembership {
  private current = new Set<string>();
  /** Membership changes heard while a refresh is in flight, replayed onto its result. */
  private readonly pendingLogs = new Set<[Membership, string][]>();

  constructor(
    private readonly nodeId: string,
    private readonly liveNodes: () => Promise<string[]>,
    /** Told when a node announces that it leaves. */
    private readonly left: (nodeId: string) => void,
  ) {}

  get view(): ReadonlySet<string> {
    return this.current;
  }

  /** Reads the live nodes afresh; announcements heard meanwhile are applied on top. */
  async refresh(): Promise<void> {
    const log: [Membership, string][] = [];
    this.pendingLogs.add(log);
    try {
      const view = new Set(await this.liveNodes());
      for (const [kind, node] of log) {
        if (kind === 'join') view.add(node);
        else view.delete(node);
      }
      view.add(this.nodeId);
      this.current = view;
    } finally {
      this.pendingLogs.delete(log);
    }
  }

  changed(kind: Membership, nodeId: string): void {
    for (const log of this.pendingLogs) log.push([kind, nodeId]);
    if (kind === 'join') this.current.add(nodeId);
    else {
      this.current.delete(nodeId);
      this.left(nodeId);
    }
  }
}
