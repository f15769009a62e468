/**
 * A client connection's transport without a socket: what the Hub and the protocols write lands
 * in `frames`, and close() records its code and reason once. For tests that drive a Hub or a
 * protocol directly (test/cluster, test/realtime-e2e/tenant-isolation).
 */
import type { ClientTransport, OutboundFrame } from '../../src/connections/index.js';

export class FakeTransport implements ClientTransport {
  readonly frames: OutboundFrame[] = [];
  open = true;
  closedWith: { code: number; reason: string } | undefined;
  /** Called once, when the transport closes (the registry's part of a socket going away). */
  onClose: (() => void) | undefined;

  write(frame: OutboundFrame): boolean {
    if (!this.open) return false;
    this.frames.push(frame);
    return true;
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.closedWith = { code, reason };
    this.onClose?.();
  }

  texts(): string[] {
    return this.frames.map((frame) => frame.data.toString('utf8'));
  }

  envelopes(): { type: string; data: Record<string, unknown>; tenantId?: string }[] {
    return this.texts().map((text) => JSON.parse(text) as { type: string; data: Record<string, unknown>; tenantId?: string });
  }
}
