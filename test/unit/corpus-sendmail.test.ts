// The Sendmail census against the generated real-daemon corpus (a real Sendmail 8.17.1.9 on Debian 12 driven by
// scripted clients; truth.json says what was driven), in both envelopes rsyslog wrote, then the session rules on
// log shapes the corpus lacks: pre-8.15 versions, the MSP's loopback pair, client failures, reused pids.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { byIana, byProtocol, readTruth, reportOf, spreadByIana, writeLog } from '../helpers/corpus-truth.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[]): Promise<ReportData> {
  return reportOf(paths, { mta: ['sendmail'] });
}

const truth = readTruth('sendmail');

describe('Sendmail census: generated real-daemon corpus (truth.json)', () => {
  for (const file of ['mail.log', 'mail.log.traditional']) {
    for (const [dir, key] of [
      ['in', 'inbound'],
      ['out', 'outbound'],
    ] as const) {
      it(`${file} ${key}: sessions, TLS, failed, plaintext, protocols and suites equal the truth`, async () => {
        const r = await report([fixturePath('corpus/sendmail', file)]);
        const t = truth.counts[dir];
        const d = r[key];
        assert.equal(d.totals.sessions, t.sessions, 'sessions');
        assert.equal(d.totals.tls, t.tls, 'tls');
        // truth's starttls_abandoned (m12: STARTTLS, then close) is `accept failed … unexpected eof while
        // reading`: a handshake that did not complete, counted as failed (reason lost-connection).
        assert.equal(d.totals.failed, t.tls_failed + t.starttls_abandoned, 'failed');
        assert.equal(d.totals.plaintext, t.plaintext, 'plaintext');
        assert.equal(d.totals.incomplete, 0, 'incomplete');
        assert.deepEqual(byProtocol(d), t.by_protocol, 'by_protocol');
        assert.deepEqual(spreadByIana(d), byIana(t.by_protocol_cipher), 'by_protocol_cipher (via IANA)');
        assert.equal(r.coverage.malformed, 0);
      });
    }
  }

  it('failure reasons and peers', async () => {
    const r = await report([fixturePath('corpus/sendmail/mail.log')]);
    assert.deepEqual(r.inbound.failures, [
      {
        peer: { host: 'localhost', ip: '127.0.0.1' },
        count: 6,
        reasons: { 'no-shared-cipher': 4, 'wrong-version-number': 1, 'lost-connection': 1 },
        lastDetail: 'unexpected eof while reading',
      },
    ]);
    // The outbound handshake names `[127.0.0.1]`; the `to=` line of the same process adds nothing new.
    assert.deepEqual(r.outbound.spread[0]?.peers, 1);
  });
});

describe('Sendmail census: session rules beyond the corpus', () => {
  it('pre-8.15: TLSv1/SSLv3 is protocol unknown with a note; the MSP loopback pair counts once each way', async () => {
    const r = await report([
      writeLog(
        [
          'Mar  4 23:20:52 mydomain sendmail[2563]: u253Kp8W002563: from=www-data, size=175, class=0, nrcpts=1, msgid=<1@x>, relay=www-data@localhost',
          'Mar  4 23:20:52 mydomain sm-mta[2564]: STARTTLS=server, relay=localhost [127.0.0.1], version=TLSv1/SSLv3, verify=NOT, cipher=DHE-RSA-AES256-GCM-SHA384, bits=256/256',
          'Mar  4 23:20:52 mydomain sendmail[2563]: STARTTLS=client, relay=[127.0.0.1], version=TLSv1/SSLv3, verify=FAIL, cipher=DHE-RSA-AES256-GCM-SHA384, bits=256/256',
          'Mar  4 23:20:52 mydomain sm-mta[2564]: u253KqZe002564: from=<www-data@mydomain.com>, size=408, class=0, nrcpts=1, msgid=<1@x>, proto=ESMTP, daemon=MTA, relay=localhost [127.0.0.1]',
          'Mar  4 23:20:52 mydomain sendmail[2563]: u253Kp8W002563: to=www-data, ctladdr=www-data (33/33), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30175, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (u253KqZe002564 Message accepted for delivery)',
        ],
        'mail.log',
      ),
    ]);
    for (const d of [r.inbound, r.outbound]) {
      assert.deepEqual([d.totals.sessions, d.totals.tls, d.totals.messages], [1, 1, 1]);
      assert.equal(d.spread[0]?.protocol, 'unknown');
      assert.equal(d.spread[0]?.iana, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384');
      assert.match(d.spread[0]?.note ?? '', /before 8\.15\.1/);
    }
  });

  it('a client failure gets its server from the `to=` line of its process; a deferral does not count twice', async () => {
    const r = await report([
      writeLog(
        [
          'Dec  4 10:24:32 c sm-mta[32283]: STARTTLS=client, error: connect failed=0, SSL_error=5',
          'Dec  4 10:24:32 c sm-mta[32283]: ruleset=tls_server, arg1=SOFTWARE, relay=mx.example.com, reject=403 4.7.0 TLS handshake failed.',
          'Dec  4 10:24:32 c sm-mta[32283]: xB4AOW1a032283: to=<a@example.com>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.example.com. [203.0.113.5], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.',
          'Dec  4 10:24:32 c sm-mta[32283]: xB4AOW1a032283: to=<b@example.com>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.example.com. [203.0.113.5], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.',
          'Dec  4 10:25:00 c sm-mta[32290]: STARTTLS=client, relay=mx.other.test., version=TLSv1.3, verify=OK, cipher=TLS_AES_256_GCM_SHA384, bits=256/256',
          'Dec  4 10:25:00 c sm-mta[32290]: xB4AOW2a032283: to=<c@other.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.other.test. [203.0.113.6], dsn=2.0.0, stat=Sent (ok)',
          'Dec  4 10:25:00 c sm-mta[32290]: xB4AOW3a032283: to=<d@other.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.other.test. [203.0.113.6], dsn=2.0.0, stat=Sent (ok)',
          'Dec  4 10:26:00 c sm-mta[32291]: xB4AOW4a032283: to=<e@plain.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.plain.test. [203.0.113.7], dsn=2.0.0, stat=Sent (ok)',
          'Dec  4 10:27:00 c sm-mta[32292]: xB4AOW5a032283: to=<f@down.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=1, relay=mx.down.test. [203.0.113.8], dsn=4.0.0, stat=Deferred: Connection refused by mx.down.test.',
        ],
        'mail.log',
      ),
    ]);
    const t = r.outbound.totals;
    assert.deepEqual([t.sessions, t.tls, t.failed, t.plaintext, t.messages], [3, 1, 1, 1, 3]);
    assert.deepEqual(r.outbound.failures[0]?.peer, { host: 'mx.example.com', ip: '203.0.113.5' });
    assert.deepEqual(r.outbound.spread[0]?.peers, 1);
    assert.equal(r.outbound.spread[0]?.unknownClients, 0);
    assert.equal(r.outbound.plaintext[0]?.peer.ip, '203.0.113.7');
  });

  it('inbound: many messages on one connection, ESMTPS without a STARTTLS line, a reused pid', async () => {
    const r = await report([
      writeLog(
        [
          'Jan  5 10:00:00 mx sm-mta[500]: q05A001b000500: from=<a@x>, size=1, class=0, nrcpts=1, msgid=<1@x>, proto=ESMTP, daemon=MTA, relay=[192.0.2.1]',
          'Jan  5 10:00:01 mx sm-mta[500]: q05A002b000500: from=<a@x>, size=1, class=0, nrcpts=1, msgid=<2@x>, proto=ESMTP, daemon=MTA, relay=[192.0.2.1]',
          'Jan  5 10:00:02 mx sm-mta[501]: q05A003b000500: from=<b@x>, size=1, class=0, nrcpts=1, msgid=<3@x>, proto=ESMTPS, daemon=MTA, relay=mail.b.test [192.0.2.2]',
          // pid 500 serves a new client a minute later (its STARTTLS line cannot belong to a connection that sent mail)
          'Jan  5 10:01:00 mx sm-mta[500]: STARTTLS=server, relay=mail.c.test [192.0.2.3] (may be forged), version=TLSv1.2, verify=NO, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128',
          'Jan  5 10:01:01 mx sm-mta[500]: q05A004b000500: from=<c@x>, size=1, class=0, nrcpts=1, msgid=<4@x>, proto=ESMTPS, daemon=MTA, relay=mail.c.test [192.0.2.3] (may be forged)',
        ],
        'mail.log',
      ),
    ]);
    const t = r.inbound.totals;
    assert.deepEqual([t.sessions, t.tls, t.plaintext, t.messages], [3, 2, 1, 4]);
    assert.equal(r.inbound.plaintext[0]?.messages, 2);
    assert.deepEqual(byProtocol(r.inbound), { 'TLSv1.2': 1, unknown: 1 });
    const unknown = r.inbound.spread.find((s) => s.protocol === 'unknown');
    assert.equal(unknown?.cipher, '(not logged)');
    assert.match(unknown?.note ?? '', /LogLevel 9/);
    // `(may be forged)` and `[ip]`: unknown clients.
    assert.equal(r.inbound.spread.find((s) => s.protocol === 'TLSv1.2')?.unknownClients, 1);
  });

  it('a connection whose lines span a rotation counts once, on one thread or more (review)', async () => {
    // The real log cut after every STARTTLS line in turn: its connection's `from=` line is in the next file.
    const lines = fs
      .readFileSync(fixturePath('corpus/sendmail/mail.log'), 'utf8')
      .split('\n')
      .filter((l) => l);
    const whole = JSON.stringify(counts(await report([writeLog(lines)])));
    // (Near the middle: two runs of about equal size, as a range census plans them.)
    const cuts = lines
      .flatMap((l, i) => (l.includes('STARTTLS=server') ? [i + 1] : []))
      .sort((a, b) => Math.abs(a - lines.length / 2) - Math.abs(b - lines.length / 2))
      .slice(0, 4);
    assert.ok(cuts.length === 4);
    for (const cut of cuts) {
      const older = writeLog(lines.slice(0, cut), 'mail.log.1');
      const newer = path.join(path.dirname(older), 'mail.log');
      fs.writeFileSync(newer, `${lines.slice(cut).join('\n')}\n`);
      assert.equal(JSON.stringify(counts(await report([older, newer]))), whole, `cut after line ${cut}`);
      // Counted in runs of whole files on two threads: the run after the cut holds Sendmail's lines, whose state
      // one pass carries over from the file before: it is read on this thread instead.
      // (No --year: it keeps a census on one thread. The stamps are ISO, with their year.)
      const r = await census(resolveInputs([path.dirname(older)]), {
        timezone: 'UTC',
        mta: ['sendmail'],
        threads: 2,
        parallel: { rangeMinBytes: 0 },
      });
      const two = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
      assert.equal(JSON.stringify(counts(two)), whole, `cut after line ${cut}, two threads`);
    }
  });
});

function counts(r: ReportData) {
  return { inbound: r.inbound.totals, outbound: r.outbound.totals, spread: r.inbound.spread };
}
