// jsonChunks must print exactly what JSON.stringify(value, null, 2) prints, for any JSON-like value, in pieces
// small enough that no whole report is ever one string.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonChunks } from '../../src/render/json-chunks.js';

const joined = (value: unknown, batch?: number) => [...jsonChunks(value, batch)].join('');

// JSON values plus what JSON.stringify treats specially: undefined and functions (left out of objects, null in
// arrays), -0 and non-finite numbers (0 and null), Dates (toJSON), and strings with line breaks, quotes and
// lone surrogates (escaped, so re-indenting cannot touch them).
const leaf = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.constantFrom('a\nb', '"\\', '\u2028', '\ud800', '=cmd|', ''),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.date({ noInvalidDate: true }),
  // toJSON that returns an object: JSON.stringify indents what it returns.
  fc.constant({ toJSON: () => ({ a: [1, { b: 'c' }], d: {} }) }),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 6 }),
}));

describe('jsonChunks', () => {
  it('prints what JSON.stringify(value, null, 2) prints', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 4 }), (v, batch) => {
        assert.equal(joined(v, batch), JSON.stringify(v, null, 2) ?? '');
        assert.equal(joined(v), JSON.stringify(v, null, 2) ?? '');
      }),
      { numRuns: 3000 },
    );
  });

  it('cuts a large value into pieces of bounded size', () => {
    const peers = Array.from({ length: 20_000 }, (_, i) => ({ ip: `192.0.2.${i % 256}`, host: `h${i}.example`, n: i }));
    const report = { schema: 'x', inbound: { failures: peers, empty: [], none: {} } };
    const chunks = [...jsonChunks(report)];
    assert.ok(chunks.length > 10, `${chunks.length} pieces`);
    assert.ok(Math.max(...chunks.map((c) => c.length)) < 80 * 1024, 'each piece stays near 64 KiB');
    assert.equal(chunks.join(''), JSON.stringify(report, null, 2));
  });
});
