import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyBytes } from '../src/ring/copy.js';

test('copyBytes copies exactly the range, at any alignment, between plain and shared memory', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 600 }),
      fc.nat({ max: 15 }),
      fc.nat({ max: 15 }),
      fc.boolean(),
      fc.boolean(),
      (data, srcPad, dstPad, srcShared, dstShared) => {
        const mk = (n: number, shared: boolean) => new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
        const srcBuf = mk(data.length + srcPad + 8, srcShared);
        // A view that does not start at the buffer's beginning, so byteOffset counts too.
        const src = srcBuf.subarray(1);
        src.set(data, srcPad);
        const dst = mk(data.length + dstPad + 16, dstShared).subarray(3);
        dst.fill(0xee);
        copyBytes(src, srcPad, dst, dstPad, data.length);
        assert.deepEqual(Array.from(dst.subarray(dstPad, dstPad + data.length)), Array.from(data));
        assert.ok(dst.subarray(0, dstPad).every((b) => b === 0xee), 'nothing written before the range');
        assert.ok(dst.subarray(dstPad + data.length).every((b) => b === 0xee), 'nothing written after the range');
      },
    ),
    { numRuns: 2000 },
  );
});
