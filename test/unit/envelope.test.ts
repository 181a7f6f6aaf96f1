import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseZone, WallClock, YearResolver } from '../../src/envelope/clock.js';
import { locateProgram } from '../../src/envelope/locate-program.js';
import { parseEnvelope } from '../../src/envelope/parse-envelope.js';

const utc = () => ({ clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) });

describe('parseEnvelope', () => {
  it('reads RFC 3164 with a space-padded day', () => {
    const e = parseEnvelope('Oct  1 11:47:51 u86 postfix/smtpd[10242]: connect from unknown[192.168.9.1]', utc());
    assert.deepEqual(e, {
      timeMs: Date.UTC(2026, 9, 1, 11, 47, 51),
      host: 'u86',
      program: 'postfix/smtpd',
      pid: 10242,
      message: 'connect from unknown[192.168.9.1]',
    });
  });

  it('reads Postfix maillog_file lines (zero-padded day, first label of the host)', () => {
    const e = parseEnvelope(
      'Jan 01 00:00:00 middle-earth postfix/tlsproxy[42]: CONNECT from [192.168.1.12]:1000',
      utc(),
    );
    assert.equal(e?.timeMs, Date.UTC(2026, 0, 1));
    assert.equal(e?.program, 'postfix/tlsproxy');
  });

  it('reads RFC 3339 with microseconds and an offset (rsyslog on Debian 12)', () => {
    const e = parseEnvelope(
      '2025-11-27T14:34:36.871935+03:00 mail postfix/smtpd[137233]: connect from x[209.85.218.47]',
      utc(),
    );
    assert.equal(e?.timeMs, Date.UTC(2025, 10, 27, 11, 34, 36, 871));
    assert.equal(e?.host, 'mail');
    assert.equal(e?.pid, 137233);
  });

  it('reads multi-instance program names', () => {
    for (const p of ['postfix/submission/smtpd', 'postfix/smtps/smtpd', 'postfix-out/smtp', 'postfix/smtp-25/smtpd']) {
      const e = parseEnvelope(`Feb 10 13:26:34 srv ${p}[123]: disconnect from unknown[192.0.2.1]`, utc());
      assert.equal(e?.program, p);
    }
  });

  it('reads Exim mainlog lines as program exim, with and without [pid]', () => {
    const a = parseEnvelope('2026-11-27 18:59:01 1xX19x-0007k6-18 <= e01@client.test H=(e01) [127.0.0.1]:50006', utc());
    assert.equal(a?.program, 'exim');
    assert.equal(a?.pid, null);
    const b = parseEnvelope('2026-11-27 18:59:01.123 +0100 [4242] 1xX19x-0007k6-18 Completed', utc());
    assert.equal(b?.pid, 4242);
    assert.equal(b?.timeMs, Date.UTC(2026, 10, 27, 17, 59, 1, 123));
  });

  it('reads journald JSON, with MESSAGE as a string or as bytes', () => {
    const e = parseEnvelope(
      JSON.stringify({
        SYSLOG_IDENTIFIER: 'postfix/smtpd',
        SYSLOG_PID: '314894',
        _HOSTNAME: 'andres',
        __REALTIME_TIMESTAMP: '1789228152650438',
        MESSAGE: 'connect from unknown[91.92.41.82]',
      }),
      utc(),
    );
    assert.deepEqual(e, {
      timeMs: 1789228152650,
      host: 'andres',
      program: 'postfix/smtpd',
      pid: 314894,
      message: 'connect from unknown[91.92.41.82]',
    });
    const bytes = [...Buffer.from('disconnect from x[1.2.3.4]')];
    const b = parseEnvelope(JSON.stringify({ SYSLOG_IDENTIFIER: 'postfix/smtpd', MESSAGE: bytes }), utc());
    assert.equal(b?.message, 'disconnect from x[1.2.3.4]');
    assert.equal(parseEnvelope('{"MESSAGE": ', utc()), null);
  });

  it('reads Dovecot log_path lines, which have no host', () => {
    const e = parseEnvelope('Nov 27 18:59:59 imap-login: Info: Login: user=<d01>, rip=127.0.0.1', utc());
    assert.equal(e?.host, null);
    assert.equal(e?.program, 'imap-login');
    assert.equal(e?.message, 'Info: Login: user=<d01>, rip=127.0.0.1');
  });

  it('strips a <PRI> and a docker --timestamps prefix', () => {
    assert.equal(parseEnvelope('<22>Oct  1 11:47:51 u86 postfix/smtpd[1]: x', utc())?.program, 'postfix/smtpd');
    const d = parseEnvelope('2014-09-16T06:17:46.000000000Z Oct  1 11:47:51 u86 postfix/smtpd[1]: x', utc());
    assert.equal(d?.program, 'postfix/smtpd');
  });

  it('tells W3C log headers (Exchange) from comment lines', () => {
    assert.equal(parseEnvelope('#Fields: date-time,connector-id,session-id', utc())?.program, '#header');
    assert.equal(parseEnvelope('# a comment', utc()), null);
    assert.equal(parseEnvelope('#!binary', utc()), null);
  });

  it('returns null for garbage, never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        parseEnvelope(s, utc());
      }),
      { numRuns: 3000 },
    );
    assert.equal(parseEnvelope('', utc()), null);
    assert.equal(parseEnvelope('\u0000\u0001 garbage', utc()), null);
  });
});

describe('year inference', () => {
  it('with --year advances on a Dec → Jan rollover', () => {
    const y = new YearResolver(2025, 0);
    assert.equal(y.yearFor(11), 2025);
    assert.equal(y.yearFor(11), 2025);
    assert.equal(y.yearFor(0), 2026);
    assert.equal(y.yearFor(1), 2026);
  });

  it('with --year, takes a Dec line written after the first Jan ones for the year before (review)', () => {
    const y = new YearResolver(2025, 0);
    assert.deepEqual(
      [11, 0, 11, 0, 0, 1].map((m) => y.yearFor(m)),
      [2025, 2026, 2025, 2026, 2026, 2026],
    );
    // But a log that skips six months goes forward (a second review: Jul and Aug fell into the year before).
    const gap = new YearResolver(2026, 0);
    assert.deepEqual(
      [0, 6, 7].map((m) => gap.yearFor(m)),
      [2026, 2026, 2026],
    );
    const turned = new YearResolver(2025, 0);
    assert.deepEqual(
      [11, 0, 1, 11].map((m) => turned.yearFor(m)),
      [2025, 2026, 2026, 2026],
    );
  });

  it('without --year, months after the file mtime belong to the year before', () => {
    const y = new YearResolver(null, new Date(2026, 0, 15).getTime());
    assert.equal(y.yearFor(11), 2025);
    assert.equal(y.yearFor(0), 2026);
  });
});

describe('time zones', () => {
  it('applies fixed offsets and IANA zones to wall-clock stamps', () => {
    assert.equal(new WallClock(parseZone('+02:00')).toEpochMs(2026, 5, 1, 12, 0, 0), Date.UTC(2026, 5, 1, 10));
    assert.equal(new WallClock(parseZone('Europe/Berlin')).toEpochMs(2026, 0, 1, 12, 0, 0), Date.UTC(2026, 0, 1, 11));
    assert.equal(new WallClock(parseZone('Europe/Berlin')).toEpochMs(2026, 6, 1, 12, 0, 0), Date.UTC(2026, 6, 1, 10));
    assert.throws(() => parseZone('Mars/Olympus'), /unknown time zone/);
  });
});

describe('locateProgram', () => {
  const samples = [
    'Oct  1 11:47:51 u86 postfix/smtpd[10242]: connect from unknown[192.168.9.1]',
    'Jan 01 00:00:00 middle-earth postfix/tlsproxy[42]: CONNECT from [192.168.1.12]:1000',
    '2025-11-27T14:34:36.871935+03:00 mail postfix/smtpd[137233]: connect from x[1.2.3.4]',
    'Nov 27 18:59:59 imap-login: Info: Login: user=<d01>',
    'Nov 20 00:00:07 mx1 dovecot: imap-login: Login: user=<a>',
    'Nov 20 00:00:21 mx1 sshd[18357]: Invalid user user from 128.186.111.81 port 33583',
    '2026-11-27 18:59:01 1xX19x-0007k6-18 <= e01@client.test',
  ];

  it('agrees with parseEnvelope wherever it answers', () => {
    for (const s of samples) {
      const buf = Buffer.from(s);
      assert.equal(locateProgram(buf, 0, buf.length), parseEnvelope(s, utc())?.program, s);
    }
  });

  it('agrees with parseEnvelope on mutated lines (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.nat(), fc.string({ maxLength: 6 }), (s, at, ins) => {
        const i = at % (s.length + 1);
        const text = s.slice(0, i) + ins + s.slice(i);
        const buf = Buffer.from(text);
        const fast = locateProgram(buf, 0, buf.length);
        if (fast === null) return;
        const env = parseEnvelope(text, utc());
        // Where the slow parser rejects the line it is not a syslog line at all; the fast answer is then moot.
        if (env !== null) assert.equal(fast, env.program, text);
      }),
      { numRuns: 3000 },
    );
  });
});
