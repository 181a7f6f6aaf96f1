// The OpenSMTPD census against the generated real-daemon corpus (a real OpenSMTPD 6.8.0p2 on Debian 12 driven by
// scripted clients; truth.json says what was driven), in both envelopes rsyslog wrote, plus lines of older
// OpenSMTPD versions and the outbound downgrade to plaintext.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import type { ReportData } from '../../src/render/report-model.js';
import { byIana, readTruth, reportOf, spreadByIana, writeLog } from '../helpers/corpus-truth.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[], mta = 'opensmtpd'): Promise<ReportData> {
  return reportOf(paths, { mta: [mta] });
}

const truth = readTruth('opensmtpd');

describe('OpenSMTPD census: generated real-daemon corpus', () => {
  for (const file of ['mail.log', 'mail.log.traditional']) {
    for (const [dir, key] of [
      ['inbound', 'in'],
      ['outbound', 'out'],
    ] as const) {
      it(`${file}, ${dir}: sessions, TLS, failed, plaintext and the spread equal what was driven`, async () => {
        const r = await report([fixturePath('corpus/opensmtpd', file)]);
        const t = truth.counts[key];
        const d = r[dir];
        assert.equal(d.totals.sessions, t.sessions);
        assert.equal(d.totals.tls, t.tls);
        // o06 sent STARTTLS and hung up before its ClientHello (`starttls_abandoned`); OpenSMTPD logs it as
        // `io-error: …unexpected eof while reading`: a failed handshake to us, reason `lost-connection`.
        assert.equal(d.totals.failed, t.tls_failed + t.starttls_abandoned);
        assert.equal(d.totals.plaintext, t.plaintext);
        assert.equal(d.totals.noCommand, 0);
        assert.equal(d.totals.incomplete, 0);
        assert.deepEqual(spreadByIana(d), byIana(t.by_protocol_cipher));
      });
    }
  }

  it('classifies each inbound failure the way the driven client provoked it', async () => {
    const r = await report([fixturePath('corpus/opensmtpd/mail.log')]);
    // o01-o04: Debian 12's OpenSMTPD breaks its own side of every inbound handshake (EVP lib, internal error,
    // decryption failed): `other`. o06 hung up after STARTTLS; o07 sent plaintext EHLO instead of a ClientHello.
    assert.deepEqual(r.inbound.failures[0]?.reasons, { 'wrong-version-number': 1, 'lost-connection': 1, other: 4 });
    assert.deepEqual(r.inbound.failures[0]?.peer, { host: 'localhost', ip: '127.0.0.1' });
  });

  it('counts the messages each session carried and names its services', async () => {
    const r = await report([fixturePath('corpus/opensmtpd/mail.log')]);
    assert.equal(r.inbound.totals.plaintextMessages, 3); // o05, r01, r02 (swaks, plaintext)
    assert.equal(r.outbound.totals.tlsMessages, 1); // r01 relayed over TLS
    assert.equal(r.outbound.totals.plaintextMessages, 1); // r02 relayed with smtp+notls://
    assert.deepEqual(r.mtas, ['opensmtpd']);
    assert.deepEqual(r.services, ['smtp-in', 'smtp-out']);
  });

  it('gives every line exactly one outcome, none malformed', async () => {
    for (const file of ['mail.log', 'mail.log.traditional']) {
      const r = await report([fixturePath('corpus/opensmtpd', file)]);
      const c = r.coverage;
      const lines = fs.readFileSync(fixturePath('corpus/opensmtpd', file), 'utf8').split('\n').length - 1;
      assert.equal(c.lines, lines);
      assert.equal(c.events + c.unrecognized + c.malformed + c.foreign, c.lines);
      assert.equal(c.malformed, 0);
    }
  });

  it('is found by --mta auto', async () => {
    const r = await report([fixturePath('corpus/opensmtpd/mail.log')], 'auto');
    assert.equal(r.inbound.totals.sessions, truth.counts.in.sessions);
    assert.deepEqual(r.mtas, ['opensmtpd']);
  });
});

describe('OpenSMTPD census: real public lines', () => {
  it('reads the real corpus without a malformed line; local enqueues are not connections', async () => {
    const r = await report([fixturePath('corpus/real/opensmtpd.log')]);
    assert.equal(r.coverage.malformed, 0);
    // Two `address=local` submissions (sendmail(1)) are not counted; one inbound TLS 1.3 session from a named
    // peer; the TLS 1.2 lines without their `smtp connected` line have no peer.
    const tls13 = r.inbound.spread.find((s) => s.protocol === 'TLSv1.3');
    assert.equal(tls13?.count, 1);
    assert.equal(tls13?.unknownClients, 0);
    assert.equal(r.outbound.totals.tls, 5);
    assert.equal(r.outbound.spread.find((s) => s.cipher === 'ECDHE-RSA-CHACHA20-POLY1305')?.count, 2);
  });
});

describe('OpenSMTPD census: sessions', () => {
  it('counts an opportunistic TLS failure, then the plaintext retry on the same session id', async () => {
    // Format: usr.sbin/smtpd/mta_session.c (IO_ERROR in MTA_STARTTLS with use_smtp_tls: log, reconnect with
    // MTA_DOWNGRADE_PLAIN, whose scheme is `smtp+notls://`).
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx smtpd[9]: 0123456789abcdef mta connecting address=smtp://192.0.2.25:25 host=mx.example.org',
        'Nov 20 10:00:00 mx smtpd[9]: 0123456789abcdef mta connected',
        'Nov 20 10:00:01 mx smtpd[9]: smtp-out: Error on session 0123456789abcdef: opportunistic TLS failed, downgrading to plain',
        'Nov 20 10:00:01 mx smtpd[9]: 0123456789abcdef mta connecting address=smtp+notls://192.0.2.25:25 host=mx.example.org',
        'Nov 20 10:00:01 mx smtpd[9]: 0123456789abcdef mta connected',
        'Nov 20 10:00:02 mx smtpd[9]: 0123456789abcdef mta delivery evpid=1e9bc1560844ccba from=<a@example.net> to=<b@example.org> rcpt=<-> source="192.0.2.1" relay="192.0.2.25 (mx.example.org)" delay=2s result="Ok" stat="250 2.0.0 Ok: queued as 7187520E12C"',
        'Nov 20 10:00:03 mx smtpd[9]: 0123456789abcdef mta disconnected reason=quit messages=1',
      ],
      'mail.log',
    );
    const r = await report([p]);
    const t = r.outbound.totals;
    assert.deepEqual([t.sessions, t.failed, t.plaintext, t.tls, t.plaintextMessages], [2, 1, 1, 0, 1]);
    assert.equal(r.outbound.plaintext[0]?.alsoFailedTls, true);
    assert.deepEqual(r.outbound.failures[0]?.peer, { host: 'mx.example.org', ip: '192.0.2.25' });
  });

  it('counts a refused connection as nothing, and an unknown reverse name as an unknown client', async () => {
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx smtpd[9]: 1111111111111111 mta connecting address=smtp://192.0.2.26:25 host=mx2.example.org',
        'Nov 20 10:00:00 mx smtpd[9]: 1111111111111111 mta error reason=Connection failed: Connection refused',
        'Nov 20 10:00:05 mx smtpd[9]: 2222222222222222 smtp connected address=198.51.100.7 host=<unknown>',
        'Nov 20 10:00:05 mx smtpd[9]: 2222222222222222 smtp tls ciphers=TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256:128',
        'Nov 20 10:00:06 mx smtpd[9]: 2222222222222222 smtp disconnected reason=quit',
        'Nov 20 10:00:07 mx smtpd[9]: 3333333333333333 smtp connected address=198.51.100.8 host=<unknown>',
        'Nov 20 10:00:08 mx smtpd[9]: 3333333333333333 smtp disconnected reason="io-error: handshake failed: error:0A000102:SSL routines::unsupported protocol"',
      ],
      'mail.log',
    );
    const r = await report([p]);
    assert.equal(r.outbound.totals.sessions, 0);
    assert.equal(r.inbound.spread[0]?.unknownClients, 1);
    assert.deepEqual(r.inbound.failures[0]?.reasons, { 'unsupported-protocol': 1 });
    assert.deepEqual(r.inbound.failures[0]?.peer, { host: null, ip: '198.51.100.8' });
  });

  it('does not take an I/O error after TLS, or a reset on a plaintext session, for a failed handshake', async () => {
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx smtpd[9]: 4444444444444444 smtp connected address=198.51.100.9 host=a.example',
        'Nov 20 10:00:00 mx smtpd[9]: 4444444444444444 smtp tls ciphers=TLSv1.3:TLS_AES_128_GCM_SHA256:128',
        'Nov 20 10:00:01 mx smtpd[9]: 4444444444444444 smtp disconnected reason="io-error: error:0A000126:SSL routines::unexpected eof while reading"',
        'Nov 20 10:00:02 mx smtpd[9]: 5555555555555555 smtp connected address=198.51.100.10 host=b.example',
        'Nov 20 10:00:03 mx smtpd[9]: 5555555555555555 smtp disconnected reason="io-error: Connection reset by peer"',
      ],
      'mail.log',
    );
    const r = await report([p]);
    assert.deepEqual([r.inbound.totals.tls, r.inbound.totals.failed, r.inbound.totals.plaintext], [1, 0, 1]);
  });

  it('reads the 6.0 and 6.4 formats (smtp_session.c before the December 2018 log rework)', async () => {
    // Format strings: `%016llx smtp event=connected address=%s host=%s`, `… smtp event=starttls address=%s host=%s
    // ciphers="%s"` with ssl_to_text() = `version=%s, cipher=%s, bits=%d`, `… smtp event=closed address=%s
    // host=%s reason=…` (6.0, OpenSMTPD smtp_session.c 2018-05); `… smtp starttls address=… host=… ciphers="…"` (6.4).
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx smtpd[9]: 6666666666666666 smtp event=connected address=203.0.113.5 host=c.example',
        'Nov 20 10:00:00 mx smtpd[9]: 6666666666666666 smtp event=starttls address=203.0.113.5 host=c.example ciphers="version=TLSv1.2, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256"',
        'Nov 20 10:00:01 mx smtpd[9]: 6666666666666666 smtp event=closed address=203.0.113.5 host=c.example reason=quit',
        'Nov 20 10:00:02 mx smtpd[9]: 7777777777777777 smtp starttls address=203.0.113.6 host=d.example ciphers="version=TLSv1, cipher=AES128-SHA, bits=128"',
        'Nov 20 10:00:03 mx smtpd[9]: 8888888888888888 smtp event=connected address=203.0.113.7 host=e.example',
        'Nov 20 10:00:03 mx smtpd[9]: 8888888888888888 smtp event=closed address=203.0.113.7 host=e.example reason="io-error: error:1408F10B:SSL routines:ssl3_get_record:wrong version number"',
      ],
      'mail.log',
    );
    const r = await report([p]);
    assert.deepEqual(spreadByIana(r.inbound), {
      'TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384': 1,
      'TLSv1 TLS_RSA_WITH_AES_128_CBC_SHA': 1,
    });
    assert.equal(r.inbound.spread.find((s) => s.protocol === 'TLSv1')?.unknownClients, 0); // host from the line
    assert.deepEqual(r.inbound.failures[0]?.reasons, { 'wrong-version-number': 1 });
  });
});
