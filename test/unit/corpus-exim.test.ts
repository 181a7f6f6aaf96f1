// The Exim census against the generated real-daemon corpus (a real Exim 4.96, GnuTLS build, on Debian 12 driven
// by scripted clients; truth.json says what was driven), then the session rules on log shapes the corpus lacks:
// +pid without ports, lines without either, several messages per connection, outbound reuse and fallback.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { byIana, byProtocol, readTruth, reportOf, spreadByIana, writeLog } from '../helpers/corpus-truth.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[]): Promise<ReportData> {
  return reportOf(paths, { mta: ['exim'] });
}

const truth = readTruth('exim');

describe('Exim census: generated real-daemon corpus (truth.json)', () => {
  for (const [dir, key] of [
    ['in', 'inbound'],
    ['out', 'outbound'],
  ] as const) {
    it(`${key}: sessions, TLS, failed, plaintext, protocols and suites equal the truth`, async () => {
      const r = await report([fixturePath('corpus/exim/mainlog')]);
      const t = truth.counts[dir];
      const d = r[key];
      assert.equal(d.totals.sessions, t.sessions, 'sessions');
      assert.equal(d.totals.tls, t.tls, 'tls');
      // truth splits failures into tls_failed and starttls_abandoned (STARTTLS, then no ClientHello); both are
      // handshakes that did not complete, which the census counts as failed (reason lost-connection for e15).
      assert.equal(d.totals.failed, t.tls_failed + t.starttls_abandoned, 'failed');
      assert.equal(d.totals.plaintext, t.plaintext, 'plaintext');
      assert.equal(d.totals.incomplete, 0, 'incomplete');
      assert.deepEqual(byProtocol(d), t.by_protocol, 'by_protocol');
      assert.deepEqual(spreadByIana(d), byIana(t.by_protocol_cipher), 'by_protocol_cipher (via IANA)');
      assert.equal(r.coverage.malformed, 0);
    });
  }

  it('keeps the GnuTLS spelling as logged and unknown clients as unknown', async () => {
    const r = await report([fixturePath('corpus/exim/mainlog')]);
    const row = r.inbound.spread.find((s) => s.iana === 'TLS_AES_256_GCM_SHA384');
    assert.ok(row);
    assert.deepEqual(row.spellings, {
      ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM: 2,
      ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM: 1,
    });
    // H=(helo) [ip]: no verified name.
    assert.equal(row.unknownClients, 3);
    assert.deepEqual(r.inbound.failures[0]?.reasons, {
      'unsupported-protocol': 1,
      'no-shared-cipher': 1,
      'wrong-version-number': 1,
      'lost-connection': 1,
      other: 1,
    });
  });
});

describe('Exim census: session rules beyond the corpus', () => {
  it('+pid: one handshake per connection, however many messages; plaintext without an end line', async () => {
    const r = await report([
      writeLog(
        [
          '2026-03-01 10:00:00 [100] 1aaaaa-000001-AA <= a@x H=mx.a.test [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1 id=1@x',
          '2026-03-01 10:00:01 [100] 1aaaaa-000002-AA <= a@x H=mx.a.test [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1 id=2@x',
          '2026-03-01 10:00:02 [101] 1aaaaa-000003-AA <= b@x H=(b.test) [192.0.2.2] P=esmtp S=1 id=3@x',
          '2026-03-01 10:00:03 [101] 1aaaaa-000004-AA <= b@x H=(b.test) [192.0.2.2] P=esmtp S=1 id=4@x',
          '2026-03-01 10:00:04 [102] no MAIL in SMTP connection from (c.test) [192.0.2.3] D=1s X=TLS1.2:ECDHE-RSA-AES128-GCM-SHA256:128 CV=no C=EHLO,STARTTLS,EHLO,QUIT',
          '2026-03-01 10:00:05 [103] TLS error on connection from (d.test) [192.0.2.4] (SSL_accept): error:0A000102:SSL routines::unsupported protocol',
          '2026-03-01 10:00:05 [103] no MAIL in SMTP connection from (d.test) [192.0.2.4] D=0s C=EHLO,STARTTLS',
          '2026-03-01 10:00:06 [104] no MAIL in SMTP connection from [192.0.2.5] D=5s',
          // pid 100 again, 30 minutes later: another connection
          '2026-03-01 10:30:00 [100] 1aaaaa-000005-AA <= a@x H=mx.a.test [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1 id=5@x',
        ],
        'mainlog',
      ),
    ]);
    const t = r.inbound.totals;
    assert.deepEqual(
      [t.sessions, t.tls, t.plaintext, t.failed, t.noCommand, t.incomplete, t.messages],
      [6, 3, 1, 1, 1, 0, 5],
    );
    assert.equal(r.inbound.plaintext[0]?.messages, 2);
    assert.deepEqual(r.inbound.failures[0]?.reasons, { 'unsupported-protocol': 1 });
    // OpenSSL 4.93+ `TLS1.3` and ≤4.92 `TLSv1.2` spellings.
    assert.deepEqual(spreadByIana(r.inbound), {
      'TLSv1.3 TLS_AES_256_GCM_SHA384': 2,
      'TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256': 1,
    });
  });

  it('no pid, no port: each line is a connection, and a TLS error and its `no MAIL` line are one', async () => {
    const r = await report([
      writeLog(
        [
          '2026-03-01 10:00:00 1aaaaa-000001-AA <= a@x H=mx.a.test [192.0.2.1] P=esmtps X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=no S=1 id=1@x',
          '2026-03-01 10:00:01 TLS error on connection from (b.test) [192.0.2.2] (gnutls_handshake): A TLS fatal alert has been received.',
          '2026-03-01 10:00:01 no MAIL in SMTP connection from (b.test) [192.0.2.2] D=0s C=EHLO,STARTTLS',
          '2026-03-01 10:00:02 H=(c.test) [192.0.2.3] X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no F=<s@c.test> rejected RCPT <u@x>: relay not permitted',
          '2026-03-01 10:00:03 1aaaaa-000002-AA <= s@d H=(d.test) [192.0.2.4] P=esmtpa A=plain:s S=1 id=2@x',
        ],
        'mainlog',
      ),
    ]);
    const t = r.inbound.totals;
    assert.deepEqual([t.sessions, t.tls, t.failed, t.plaintext], [4, 2, 1, 1]);
    assert.deepEqual(r.inbound.failures[0]?.reasons, { alert: 1 });
    assert.deepEqual(spreadByIana(r.inbound), {
      'TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384': 1,
      'TLSv1.3 TLS_AES_256_GCM_SHA384': 1,
    });
  });

  it('through syslog: the pid from the tag, Exim’s own time stamp (syslog_timestamp) skipped', async () => {
    const r = await report([
      writeLog(
        [
          'Nov 27 19:00:00 mx exim[1234]: 2026-11-27 19:00:00 1xX19x-0007k6-18 <= a@x H=(a.test) [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1 id=1@x',
          'Nov 27 19:00:01 mx exim[1234]: 2026-11-27 19:00:01 1xX19x-0007k6-19 <= a@x H=(a.test) [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1 id=2@x',
          'Nov 27 19:00:02 mx exim4[1235]: 1xX19x-0007k6-20 <= b@x H=(b.test) [192.0.2.2] P=esmtp S=1 id=3@x',
        ],
        'mainlog',
      ),
    ]);
    const t = r.inbound.totals;
    assert.deepEqual([t.sessions, t.tls, t.plaintext, t.messages], [2, 1, 1, 3]);
  });

  it('tls_on_connect (P=essmtp) is service smtps', async () => {
    const r = await report([
      writeLog(
        [
          '2026-03-01 10:00:00 [7] 1aaaaa-000001-AA <= a@x H=(a.test) [192.0.2.1]:4000 P=essmtpa X=TLS1.3:TLS_AES_128_GCM_SHA256:128 CV=no A=plain:a S=1 id=1@x',
        ],
        'mainlog',
      ),
    ]);
    assert.deepEqual(r.inbound.spread[0]?.service, ['smtps']);
  });

  it('outbound: `->` and continued deliveries share the connection; a TLS fallback is one failure, one plaintext', async () => {
    const r = await report([
      writeLog(
        [
          '2026-03-01 10:00:00 [9] 1aaaaa-000001-AA => a@x.test R=dnslookup T=remote_smtp H=mx.x.test [198.51.100.1] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 OK"',
          '2026-03-01 10:00:00 [9] 1aaaaa-000001-AA -> b@x.test R=dnslookup T=remote_smtp H=mx.x.test [198.51.100.1] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 OK"',
          '2026-03-01 10:00:01 [10] 1aaaaa-000002-AA => c@x.test R=dnslookup T=remote_smtp H=mx.x.test [198.51.100.1]* X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 OK"',
          '2026-03-01 10:00:02 [11] 1aaaaa-000003-AA TLS session: (gnutls_handshake): A TLS fatal alert has been received.: delivering unencrypted to H=mx.y.test [198.51.100.2] (not in hosts_require_tls)',
          '2026-03-01 10:00:03 [11] 1aaaaa-000003-AA => d@y.test R=dnslookup T=remote_smtp H=mx.y.test [198.51.100.2] C="250 OK"',
          '2026-03-01 10:00:04 [12] 1aaaaa-000004-AA == e@z.test R=dnslookup T=remote_smtp defer (-38) H=mx.z.test [198.51.100.3]: a TLS session is required, but the server did not offer TLS support',
          '2026-03-01 10:00:04 [12] 1aaaaa-000004-AA == f@z.test R=dnslookup T=remote_smtp defer (-38) H=mx.z.test [198.51.100.3]: a TLS session is required, but the server did not offer TLS support',
          '2026-03-01 10:00:05 [13] 1aaaaa-000005-AA => u@local.test R=local_user T=local_delivery',
        ],
        'mainlog',
      ),
    ]);
    const t = r.outbound.totals;
    assert.deepEqual([t.sessions, t.tls, t.failed, t.plaintext, t.messages], [4, 1, 2, 1, 3]);
    const byIp = Object.fromEntries(r.outbound.failures.map((f) => [f.peer.ip, f.reasons]));
    assert.deepEqual(byIp, { '198.51.100.2': { alert: 1 }, '198.51.100.3': { 'not-offered': 1 } });
    assert.equal(r.outbound.plaintext[0]?.peer.host, 'mx.y.test');
    assert.equal(r.outbound.spread[0]?.count, 1);
  });

  it('outbound: a failed handshake whose line names no host takes the host of the delivery after it (review)', async () => {
    // Exim's test/log/2100 shape (log-formats.md §3.3): the failure line names no host; the plaintext `=>` after it
    // does. The failure was counted, but listed under no peer, and its fallback was not seen.
    const r = await report([
      writeLog(
        [
          '2026-11-20 10:01:10 [21] 1vAbCi-0001Yd-AG TLS session: (SSL_connect): error:0A000102:SSL routines::unsupported protocol',
          '2026-11-20 10:01:11 [21] 1vAbCi-0001Yd-AG => user@old.example R=dnslookup T=remote_smtp H=mx.old.example [192.0.2.50] C="250 OK"',
          '2026-11-20 10:02:00 [22] 1vAbCj-0001Ye-AG TLS session: (SSL_connect): error:0A000102:SSL routines::unsupported protocol',
        ],
        'mainlog',
      ),
    ]);
    const t = r.outbound.totals;
    assert.deepEqual([t.sessions, t.failed, t.plaintext, t.fallback], [3, 2, 1, 1]);
    assert.deepEqual(
      r.outbound.failures.map((f) => [f.peer.host, f.reasons]),
      [['mx.old.example', { 'unsupported-protocol': 1 }]],
    );
    assert.equal(r.outbound.plaintext[0]?.alsoFailedTls, true);
    assert.equal(r.outbound.plaintext[0]?.fallbackSessions, 1);
  });

  it('one table across MTAs: Postfix and Exim spellings of a suite share a row', async () => {
    const log = writeLog(
      [
        '2026-03-01 10:00:00 [7] 1aaaaa-000001-AA <= a@x H=(a.test) [192.0.2.1] P=esmtps X=TLS1.2:ECDHE_SECP256R1__RSA_SHA256__AES_256_GCM:256 CV=no S=1 id=1@x',
        'Mar  1 10:00:01 mx postfix/smtpd[5]: Anonymous TLS connection established from unknown[192.0.2.9]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)',
      ],
      'mainlog',
    );
    const res = await census(resolveInputs([log]), { year: 2026, timezone: 'UTC' });
    const r = buildReport(res.view, res.diagnostics, { sinceMs: null, untilMs: null });
    assert.equal(r.inbound.spread.length, 1);
    assert.equal(r.inbound.spread[0]?.count, 2);
    assert.deepEqual(r.inbound.spread[0]?.mta, ['exim', 'postfix']);
    assert.deepEqual(Object.keys(r.inbound.spread[0]?.spellings ?? {}).sort(), [
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE_SECP256R1__RSA_SHA256__AES_256_GCM',
    ]);
  });

  it("two servers' mainlogs keep their connections apart, though their pids meet (review)", async () => {
    // Real lines of test/integration/exim (+pid, no +incoming_port), the second server's with the first's pid and
    // written a minute earlier: the dialect's state of one log must not carry into another (a rotation set's
    // files share it; two servers' logs do not).
    const fs = await import('node:fs');
    const path = await import('node:path');
    const one = writeLog(
      [
        '2026-11-28 11:08:44 [7868] 1xXGIO-00022u-0w <= e01@client.test H=(e01.client.test) [127.0.0.1] P=esmtps X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no S=322 id=e01@client.test',
      ],
      'mainlog',
    );
    const otherDir = path.join(path.dirname(one), 'mx2');
    fs.mkdirSync(otherDir);
    const two = path.join(otherDir, 'mainlog');
    fs.writeFileSync(
      two,
      '2026-11-28 11:07:46 [7868] 1xXGIQ-00024G-2l <= e02@client.test H=(e02.client.test) [127.0.0.1] P=esmtps X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__CHACHA20_POLY1305:256 CV=no S=328 id=e02@client.test\n',
    );
    const r = await report([one, two]);
    assert.equal(r.inbound.totals.sessions, 2);
    assert.equal(r.inbound.totals.tls, 2);
    assert.equal(r.inbound.spread.length, 2, 'both handshakes');
  });
});
