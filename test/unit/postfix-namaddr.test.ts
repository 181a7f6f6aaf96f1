// parseNamaddr scans `host[ip]:port` by hand (it runs for most Postfix lines); it must answer exactly what the
// regular expression it replaced answers, on real shapes and on hostile ones.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { counterOk, counterTotal, parseNamaddr, readCounter } from '../../src/dialects/postfix.js';

const NAMADDR = /^(\S*?)\[([^[\]\s]*)\](?::(\d+))?/;

function byRegex(text: string) {
  const m = NAMADDR.exec(text);
  if (!m) return null;
  const host = m[1]!;
  return {
    host: host === '' || host === 'unknown' || host === m[2] ? null : host,
    ip: m[2]!,
    port: m[3] ? Number(m[3]) : null,
  };
}

describe('parseNamaddr', () => {
  it('reads the forms Postfix writes', () => {
    assert.deepEqual(parseNamaddr('mail.example.com[192.0.2.1]'), {
      host: 'mail.example.com',
      ip: '192.0.2.1',
      port: null,
    });
    assert.deepEqual(parseNamaddr('unknown[2001:db8::1]:587 x'), { host: null, ip: '2001:db8::1', port: 587 });
    assert.deepEqual(parseNamaddr('[192.0.2.7]:25'), { host: null, ip: '192.0.2.7', port: 25 });
    assert.deepEqual(parseNamaddr('a[b[192.0.2.9]'), { host: 'a[b', ip: '192.0.2.9', port: null });
    assert.equal(parseNamaddr('mail.example.com 192.0.2.1'), null);
    assert.equal(parseNamaddr('host[192.0.2.1'), null);
  });

  it('answers what the regular expression answers', () => {
    const piece = fc.constantFrom(
      '[',
      ']',
      ':',
      ' ',
      '\t',
      '\u00a0',
      '\u2028',
      '\ufeff',
      'a',
      'unknown',
      '1',
      '25',
      '.',
      '192.0.2.1',
      'é',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 14 }).map((p) => p.join('')),
        (text) => {
          assert.deepEqual(parseNamaddr(text), byRegex(text));
        },
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        assert.deepEqual(parseNamaddr(text), byRegex(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('readCounter', () => {
  it('reads what / name=(\\d+)(?:\\/(\\d+))?/ reads', () => {
    const bit = fc.constantFrom(
      ' commands=',
      ' starttls=',
      'commands=',
      '1',
      '0',
      '42',
      '/',
      '12345678901234567890',
      ' ',
      'ehlo=1',
      'x',
      '=',
    );
    fc.assert(
      fc.property(fc.array(bit, { maxLength: 12 }), fc.constantFrom(' commands=', ' starttls='), (parts, name) => {
        const text = parts.join('');
        const m = new RegExp(`${name}(\\d+)(?:\\/(\\d+))?`).exec(text);
        const found = readCounter(text, name);
        assert.equal(found, m !== null, JSON.stringify(text));
        if (m) {
          assert.equal(counterOk, Number(m[1]));
          assert.equal(counterTotal, Number(m[2] ?? m[1]));
        }
      }),
      { numRuns: 20000 },
    );
  });
});
