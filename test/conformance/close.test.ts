/**
 * RFC 6455 §5.5.1 and §7: the closing handshake. A valid close is answered with the same code
 * and the server ends the TCP connection; codes that must never travel (1005, 1006, 1015,
 * unassigned ranges) and malformed close payloads fail the connection with 1002, reasons that
 * are not UTF-8 with 1007. After its close frame the server sends no data frame.
 */
import { describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, INVALID_UTF8, Opcode, text } from '../support/frames.js';
import { RawClient } from '../support/raw-client.js';
import { expectConformingServer, expectFailure, shippedEdgeForSuite } from './support.js';
import { V1 } from '../support/harness.js';

const closeFrame = (code?: number, reason: Buffer | string = ''): Buffer => encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(code, reason) });

describe('closing handshake (RFC 6455 §5.5.1, §7.4)', () => {
  const edge = shippedEdgeForSuite();

  async function closeWith(payload: Buffer): Promise<Awaited<ReturnType<RawClient['outcome']>>> {
    const client = await RawClient.open(edge.port, '/echo');
    client.sentClose();
    client.write(encodeFrame({ opcode: Opcode.CLOSE, payload }));
    const outcome = await client.outcome();
    client.destroy();
    expectConformingServer(outcome);
    return outcome;
  }

  it.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])(
    'answers a close with code %i with the same code and ends the connection',
    async (code) => {
      const outcome = await closeWith(closePayload(code, 'bye'));
      expect(outcome.close?.code).toBe(code);
    },
  );

  it('answers an empty close frame with an empty close frame (no status code, 1005 locally)', async () => {
    const outcome = await closeWith(Buffer.alloc(0));
    expect(outcome.close).toBeDefined();
    expect(outcome.close!.code).toBeUndefined();
  });

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])('fails a close with code %i, which may not be sent, with 1002', async (code) => {
    await expectFailure(edge, closeFrame(code), 1002);
  });

  it('fails a close frame with a 1-byte payload with 1002', async () => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) }), 1002);
  });

  it('accepts a 123-byte reason and fails a 124-byte one (control payload over 125 bytes) with 1002', async () => {
    const outcome = await closeWith(closePayload(1000, 'r'.repeat(123)));
    expect(outcome.close?.code).toBe(1000);
    await expectFailure(edge, closeFrame(1000, 'r'.repeat(124)), 1002);
  });

  it.each(INVALID_UTF8.map((bytes) => [Buffer.from(bytes).toString('hex'), Buffer.from(bytes)] as const))('fails a close reason holding invalid UTF-8 (%s) with 1007', async (_hex, bad) => {
    await expectFailure(edge, closeFrame(1000, Buffer.concat([Buffer.from('why: '), bad])), 1007);
  });

  it('accepts a multibyte UTF-8 reason', async () => {
    const outcome = await closeWith(closePayload(1000, 'fermé — 終わり 👋'));
    expect(outcome.close?.code).toBe(1000);
  });

  it('ignores data frames sent after the client close frame', async () => {
    const client = await RawClient.open(edge.port, '/echo');
    client.sentClose();
    client.write(Buffer.concat([closeFrame(1000), text('too late')]));
    const outcome = await client.outcome();
    client.destroy();
    expect(outcome.close?.code).toBe(1000);
    expect(outcome.messages).toEqual([]);
    expectConformingServer(outcome);
  });

  it('closes with 1000 when the management API disconnects the client, and ends the connection once the client answers', async () => {
    const client = await RawClient.open(edge.port, '/echo');
    expect((await edge.node.api('DELETE', `${V1}/connections/${client.connectionId}`)).status).toBe(200);
    const outcome = await client.outcome();
    client.destroy();
    expect(outcome.close?.code).toBe(1000);
    expectConformingServer(outcome);
  });

  it('sends no data frame after its close frame when a reply is in flight as a protocol error arrives', async () => {
    // `/dummy` answers without I/O, so the answer to the first frame is written in the same
    // turn of the loop as the close frame the second one provokes.
    for (let i = 0; i < 20; i++) {
      await expectFailure(edge, Buffer.concat([text(`m${i}`), encodeFrame({ opcode: 0x3 })]), 1002, { path: '/dummy' });
    }
  });

  it('sends no data frame after answering a close when a reply is in flight', async () => {
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.open(edge.port, '/dummy');
      client.sentClose();
      client.write(Buffer.concat([text(`m${i}`), closeFrame(1000)]));
      const outcome = await client.outcome();
      client.destroy();
      expect(outcome.close?.code).toBe(1000);
      expectConformingServer(outcome);
    }
  });
});
