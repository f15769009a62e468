/**
 * The native accelerators `ws` can use (DESIGN §4): bufferutil's install script must be allowed
 * (package.json `allowScripts`), and then `require('bufferutil')` loads a compiled `.node`
 * binding rather than its JavaScript fallback, and ws's frame masking goes through it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../..');

describe('native accelerators', () => {
  it('package.json allows the install scripts of bufferutil and utf-8-validate', () => {
    const pkg = require(path.join(root, 'package.json')) as { allowScripts?: Record<string, boolean> };
    expect(pkg.allowScripts).toMatchObject({ bufferutil: true, 'utf-8-validate': true });
  });

  it('bufferutil resolves to a compiled .node binding, not its JavaScript fallback', () => {
    const folder = path.dirname(require.resolve('bufferutil'));
    const gypBuild = require('node-gyp-build') as { path(dir: string): string };
    expect(gypBuild.path(folder)).toMatch(/\.node$/);
    const bufferutil = require('bufferutil') as { mask: (...args: unknown[]) => void };
    const fallback = require('bufferutil/fallback') as { mask: (...args: unknown[]) => void };
    expect(bufferutil.mask).not.toBe(fallback.mask);
    expect(Function.prototype.toString.call(bufferutil.mask)).toContain('[native code]');
  });

  it("ws masks frames with bufferutil (or with Node's own websocketMask where the runtime has one)", () => {
    const http = require('node:http') as { websocketMask?: unknown };
    const bufferutil = require('bufferutil') as { mask: (...args: unknown[]) => void };
    const original = bufferutil.mask;
    let calls = 0;
    // ws's buffer-util calls bufferutil through this exports object at call time.
    bufferutil.mask = (...args: unknown[]) => {
      calls++;
      original(...args);
    };
    try {
      // Not an exported subpath: loaded by file, from the folder ws itself resolves from.
      const wsFolder = path.dirname(require.resolve('ws/package.json'));
      const wsBufferUtil = require(path.join(wsFolder, 'lib/buffer-util.js')) as {
        mask: (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
      };
      const source = Buffer.alloc(256, 7);
      const output = Buffer.alloc(256);
      wsBufferUtil.mask(source, Buffer.from([1, 2, 3, 4]), output, 0, source.length);
      expect(output[0]).toBe(7 ^ 1);
      expect(calls).toBe(typeof http.websocketMask === 'function' ? 0 : 1);
    } finally {
      bufferutil.mask = original;
    }
  });
});
