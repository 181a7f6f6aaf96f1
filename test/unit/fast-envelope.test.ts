// The hot path builds envelopes from bytes (fast-envelope.ts) and finds tags by byte scans (locateTag); both
// must answer exactly as parseEnvelope on the decoded line wherever they answer at all.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseZone, WallClock, YearResolver } from '../../src/envelope/clock.js';
import { FastEnvelope } from '../../src/envelope/fast-envelope.js';
import { locateTag, newTagSpan, TAG_SYSLOG } from '../../src/envelope/locate-program.js';
import { parseEnvelope } from '../../src/envelope/parse-envelope.js';

const SAMPLES = [
  'Oct  1 11:47:51 u86 postfix/smtpd[10242]: connect from unknown[192.168.9.1]',
  'Jan 01 00:00:00 middle-earth postfix/tlsproxy[42]: CONNECT from [192.168.1.12]:1000',
  'Nov 20 00:00:16 mx1 postfix/smtpd[23326]: Anonymous TLS connection established from a.example[1.2.3.4]: TLSv1.2 with cipher AES256-GCM-SHA384 (256/256 bits)',
  '2025-11-27T14:34:36.871935+03:00 mail postfix/smtpd[137233]: connect from x[209.85.218.47]',
  '2026-11-20T00:00:10.123456+00:00 mx1 dovecot: imap-login: Login: user=<a@example.org>, rip=1.2.3.4, TLS',
  '2026-11-20T00:00:10Z mx1 postfix/smtp[7]: 4F1: to=<a@b>, relay=c[1.2.3.4]:25, status=sent (250 ok)',
  '2026-11-20T00:00:10.5-0130 mx1 postfix/smtpd[1]: disconnect from a[1.2.3.4] commands=3',
  '2026-11-20T00:00:10Z MX1 postfix/smtpd[1]: connect from a[1.2.3.4]',
  'Nov 27 18:59:59 imap-login: Info: Login: user=<d01>, rip=10.0.0.1',
  'Nov 27 18:59:59 host prog:  two spaces before the message',
];

function contexts() {
  // A fixed year for RFC 3164 stamps, and a zone with DST so that local stamps are not trivial.
  const zone = parseZone('Europe/Berlin');
  const a = { clock: new WallClock(zone), years: new YearResolver(2026, 0) };
  const b = { clock: new WallClock(zone), years: new YearResolver(2026, 0) };
  return [a, b] as const;
}

function check(text: string, fast: FastEnvelope, ctx: ReturnType<typeof contexts>): void {
  const buf = Buffer.from(text);
  const span = newTagSpan();
  if (locateTag(buf, 0, buf.length, span) !== TAG_SYSLOG) return;
  if (buf.includes(13) || buf.includes(0xe2)) return; // the engine never asks then
  const program = buf.toString('utf8', span.nameStart, span.nameEnd);
  const got = fast.build(buf, 0, buf.length, span, program, ctx[0]);
  if (got === null) return;
  assert.deepEqual(got, parseEnvelope(text, ctx[1]), text);
}

describe('envelopes from bytes', () => {
  it('equal parseEnvelope on common lines', () => {
    const ctx = contexts();
    const fast = new FastEnvelope();
    for (const s of SAMPLES) check(s, fast, ctx);
    const buf = Buffer.from(SAMPLES[2]!);
    const span = newTagSpan();
    assert.equal(locateTag(buf, 0, buf.length, span), TAG_SYSLOG);
    assert.notEqual(fast.build(buf, 0, buf.length, span, 'postfix/smtpd', ctx[0]), null, 'the common line is fast');
  });

  it('equal parseEnvelope on mutated lines (property)', () => {
    const ctx = contexts();
    const fast = new FastEnvelope();
    const piece = fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.constantFrom(' ', ':', '[', ']', '[12]:', 'T', 'Z', '+01:00', '.', '0', '9', '\t', '\u00a0', 'é', 'Feb', '  '),
    );
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.nat(), piece, fc.nat(3), (s, at, ins, cut) => {
        const i = at % (s.length + 1);
        check(s.slice(0, i) + ins + s.slice(i + cut), fast, ctx);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('a line is read from its own bytes only (found in review)', () => {
  it('locateTag does not look past the end of the line', () => {
    // A short RFC 3339 line: with the next line's comma within reach it was Exchange CSV in one read (the line
    // inside a chunk) and not in another (the line carried over a chunk border): a threaded read then differed.
    const line = '2026-11-20T12:00:00#Fields:';
    const alone = Buffer.from(`${line}\n`);
    const followed = Buffer.from(`${line}\na,b,c d\n`);
    const span = newTagSpan();
    assert.equal(locateTag(followed, 0, line.length, span), locateTag(alone, 0, line.length, span));
  });

  it('WallClock dates an impossible day the same whatever came before it', () => {
    // `Feb 31` and `Mar 0` shared the clock's hour key: a line was dated by whichever of them came first.
    const fresh = () => new WallClock(parseZone('UTC'));
    const primed = fresh();
    primed.toEpochMs(2027, 2, 0, 10, 0, 0);
    assert.equal(primed.toEpochMs(2027, 1, 31, 10, 0, 5), fresh().toEpochMs(2027, 1, 31, 10, 0, 5));
    assert.equal(fresh().toEpochMs(2027, 1, 31, 10, 0, 5), Date.UTC(2027, 1, 31, 10, 0, 5));
  });
});
