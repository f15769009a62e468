import { OutboundFrame, type ConnectionRecord } from '../connections/index.js';
import type { Publication, PresenceEntry } from './hub.js';

/**
 * Builds the frames realtime-protocol connections receive for topic events. Injected by the
 * composition root so that the Hub does not depend on the protocol above it.
 */
export interface EnvelopeFramer {
  publication(topic: string, publication: Publication, epoch: string): Buffer;
  presence(kind: 'join' | 'leave', topic: string, entry: PresenceEntry): Buffer;
}

/**
 * Fans one publication out to a set of local connections: raw connections get the payload
 * as it was published, realtime ones the envelope; each form is framed once per publish.
 */
export function deliverPublication(
  recipients: Iterable<ConnectionRecord>,
  raw: Publication,
  envelope: () => Buffer,
): number {
  let rawFrame: OutboundFrame | undefined;
  let envelopeFrame: OutboundFrame | undefined;
  let delivered = 0;
  for (const record of recipients) {
    let frame: OutboundFrame;
    if (record.protocol === 'raw') {
      frame = rawFrame ??= new OutboundFrame(raw.data, raw.binary);
    } else {
      frame = envelopeFrame ??= new OutboundFrame(envelope(), false);
    }
    if (record.transport.write(frame)) delivered++;
  }
  return delivered;
}

/** Sends the same raw payload to every recipient; one frame for all. */
export function deliverRaw(recipients: Iterable<ConnectionRecord>, frame: OutboundFrame, accept?: (record: ConnectionRecord) => boolean): number {
  let delivered = 0;
  for (const record of recipients) {
    if (accept !== undefined && !accept(record)) continue;
    if (record.transport.write(frame)) delivered++;
  }
  return delivered;
}
