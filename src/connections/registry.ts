import type { ConnectionRecord } from './record.js';

/**
 * This node's live connections and the indexes that keep every fan-out O(recipients):
 * tenant → connections, user → connections, topic → connections, gateway → connections.
 * The indexes are updated on every add, subscribe, unsubscribe and remove, never rebuilt.
 */
export class ConnectionRegistry {
  private readonly byId = new Map<string, ConnectionRecord>();
  private readonly byTenant = new Map<string, Set<ConnectionRecord>>();
  private readonly byUser = new Map<string, Set<ConnectionRecord>>();
  private readonly byTopic = new Map<string, Set<ConnectionRecord>>();
  private readonly byGateway = new Map<string, Set<ConnectionRecord>>();
  private readonly perIp = new Map<string, number>();
  private nextSeq = 1;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): ConnectionRecord | undefined {
    return this.byId.get(id);
  }

  connectionsFromIp(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  connectionsOfTenant(tenantId: string): number {
    return this.byTenant.get(tenantId)?.size ?? 0;
  }

  add(record: ConnectionRecord): void {
    if (this.byId.has(record.id)) throw new Error(`connection id ${record.id} is already registered`);
    record.seq = this.nextSeq++;
    this.byId.set(record.id, record);
    addTo(this.byGateway, record.gatewayId, record);
    if (record.tenantId !== undefined) addTo(this.byTenant, record.tenantId, record);
    if (record.userId !== undefined) addTo(this.byUser, record.userId, record);
    this.perIp.set(record.sourceIp, (this.perIp.get(record.sourceIp) ?? 0) + 1);
  }

  /** Removes the record and every index entry; returns false when it was not registered. */
  remove(record: ConnectionRecord): boolean {
    if (this.byId.get(record.id) !== record) return false;
    this.byId.delete(record.id);
    removeFrom(this.byGateway, record.gatewayId, record);
    if (record.tenantId !== undefined) removeFrom(this.byTenant, record.tenantId, record);
    if (record.userId !== undefined) removeFrom(this.byUser, record.userId, record);
    if (record.subscriptions !== undefined) {
      for (const topic of record.subscriptions) removeFrom(this.byTopic, topic, record);
    }
    const ipCount = (this.perIp.get(record.sourceIp) ?? 1) - 1;
    if (ipCount <= 0) this.perIp.delete(record.sourceIp);
    else this.perIp.set(record.sourceIp, ipCount);
    return true;
  }

  /** Returns false when the record was already subscribed. */
  subscribe(record: ConnectionRecord, topic: string): boolean {
    if (this.byId.get(record.id) !== record) return false;
    record.subscriptions ??= new Set();
    if (record.subscriptions.has(topic)) return false;
    record.subscriptions.add(topic);
    addTo(this.byTopic, topic, record);
    return true;
  }

  /** Returns false when the record was not subscribed, or is no longer registered (its leave was told on removal). */
  unsubscribe(record: ConnectionRecord, topic: string): boolean {
    if (this.byId.get(record.id) !== record) return false;
    if (record.subscriptions === undefined || !record.subscriptions.delete(topic)) return false;
    removeFrom(this.byTopic, topic, record);
    return true;
  }

  subscribersOf(topic: string): ReadonlySet<ConnectionRecord> | undefined {
    return this.byTopic.get(topic);
  }

  ofTenant(tenantId: string): ReadonlySet<ConnectionRecord> | undefined {
    return this.byTenant.get(tenantId);
  }

  /** Every connection of a user id; callers filter by tenant (ids rarely repeat across tenants). */
  ofUser(userId: string): ReadonlySet<ConnectionRecord> | undefined {
    return this.byUser.get(userId);
  }

  ofGateway(gatewayId: string): ReadonlySet<ConnectionRecord> | undefined {
    return this.byGateway.get(gatewayId);
  }

  all(): IterableIterator<ConnectionRecord> {
    return this.byId.values();
  }

  topics(): IterableIterator<string> {
    return this.byTopic.keys();
  }
}

function addTo<K>(index: Map<K, Set<ConnectionRecord>>, key: K, record: ConnectionRecord): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(record);
}

function removeFrom<K>(index: Map<K, Set<ConnectionRecord>>, key: K, record: ConnectionRecord): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(record);
  if (set.size === 0) index.delete(key);
}
