// UTF-8 helpers: the validator agrees with a fatal TextDecoder, and strings are
// read from SharedArrayBuffer views even where TextDecoder refuses them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeUtf8, isValidUtf8, utf8ByteLength } from '../../src/protocol/utf8.js';
import { stringField, fieldSlot, rebindByteBuffer, reusableByteBuffer } from '../../src/protocol/read.js';
import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { Chat, ClientMessage } from '../../src/protocol/generated/mmo_generated.js';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const enc = new TextEncoder();

/** Makes TextDecoder.decode refuse shared views, as browsers do, for the duration of fn. */
function likeABrowser(fn: () => void): void {
  const orig = TextDecoder.prototype.decode;
  type Decode = (this: unknown, input?: unknown, options?: unknown) => string;
  const patched: Decode = function (input, options) {
    const buf = ArrayBuffer.isView(input) ? input.buffer : input;
    if (buf instanceof SharedArrayBuffer) throw new TypeError('The provided ArrayBufferView value must not be shared.');
    return (orig as Decode).call(this, input, options);
  };
  TextDecoder.prototype.decode = patched as typeof orig;
  try {
    fn();
  } finally {
    TextDecoder.prototype.decode = orig;
  }
}

test('isValidUtf8 accepts exactly what a fatal TextDecoder accepts', () => {
  // Bytes biased toward the interesting ranges (lead bytes, continuations).
  const byte = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xbf }), fc.integer({ min: 0xc0, max: 0xff }));
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 24 }), (arr) => {
      const b = Uint8Array.from(arr);
      let ok = true;
      try {
        fatal.decode(b);
      } catch {
        ok = false;
      }
      assert.equal(isValidUtf8(b, 0, b.length), ok, Buffer.from(b).toString('hex'));
    }),
    { numRuns: 20000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      const b = enc.encode(s);
      assert.ok(isValidUtf8(b, 0, b.length));
    }),
  );
});

test('utf8ByteLength matches TextEncoder, lone surrogates included', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }), (s) => {
      assert.equal(utf8ByteLength(s), enc.encode(s).length);
    }),
  );
});

test('decodeUtf8 reads strings out of SharedArrayBuffer views where TextDecoder refuses them', () => {
  const sab = new SharedArrayBuffer(8192);
  const view = new Uint8Array(sab);
  likeABrowser(() => {
    assert.throws(() => new TextDecoder().decode(view.subarray(0, 4)), TypeError, 'the simulation is active');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1500 }), fc.nat({ max: 100 }), (s, at) => {
        const b = enc.encode(s);
        view.set(b, at);
        assert.equal(decodeUtf8(view, at, at + b.length), new TextDecoder().decode(b));
      }),
      { numRuns: 500 },
    );
    // A verified message in shared memory: its string fields, read in place.
    const msg = new ClientMessageBuilder().chat(9, 1, 'dragón 🐉', 'zoë');
    view.set(msg, 256);
    const bb = rebindByteBuffer(reusableByteBuffer(), view, 256);
    const chat = ClientMessage.getRootAsClientMessage(bb).body(new Chat()) as Chat;
    assert.equal(stringField(chat, fieldSlot('Chat.text')), 'dragón 🐉');
    assert.equal(stringField(chat, fieldSlot('Chat.to')), 'zoë');
    assert.throws(() => chat.text(), TypeError, 'the generated accessor does not work here');
  });
  assert.equal(decodeUtf8(view, 5, 5), '');
});
