/**
 * Every Redis key and channel the Redis backplane uses, in one place (docs/redis-layout.md
 * describes them). Keys that one Lua script touches together share a hash tag, so the script
 * stays on one slot when the backplane runs against Redis Cluster.
 */
export class RedisLayout {
  /** Cluster-wide fan-out: every node subscribes, every publish, send-to-user and broadcast goes here. */
  readonly fanoutChannel: string;
  /** Sorted set of node ids scored by the server time their liveness lapses. */
  readonly nodesKey: string;

  constructor(readonly prefix: string) {
    this.fanoutChannel = `${prefix}{fanout}:events`;
    this.nodesKey = `${prefix}{live}:nodes`;
  }

  /** A node's liveness key; same hash tag as the nodes set, so announce and leave are one-slot scripts. */
  liveKey(nodeId: string): string {
    return `${this.prefix}{live}:node:${nodeId}`;
  }

  /** A node's inbox: requests for it, answers to its requests and acks of its fan-outs. */
  inbox(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:inbox`;
  }

  /** A topic's stream, offset counter and epoch, in the order the history scripts take them. */
  topicKeys(topic: string): [stream: string, offset: string, epoch: string] {
    const base = `${this.prefix}{t:${topic}}`;
    return [`${base}:stream`, `${base}:offset`, `${base}:epoch`];
  }

  /** In the topic's hash slot, so the idempotent append script touches one slot. */
  idempotencyKey(topic: string, key: string): string {
    return `${this.prefix}{t:${topic}}:idem:${key}`;
  }
}
