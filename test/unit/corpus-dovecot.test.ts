// The Dovecot census against the generated real-daemon corpus (a real Dovecot 2.3.19.1 IMAP server on Debian 12
// with %k in login_log_format_elements, driven by scripted clients; truth.json says what was driven), the real
// public lines, and the forms a default Dovecot writes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import type { CensusOptions } from '../../src/census/census.js';
import type { ReportData } from '../../src/render/report-model.js';
import { renderTable } from '../../src/render/table.js';
import { byIana, readTruth, reportOf, spreadByIana, writeLog } from '../helpers/corpus-truth.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[], options: CensusOptions = {}): Promise<ReportData> {
  return reportOf(paths, { mta: ['dovecot'], ...options });
}

const truth = readTruth('dovecot');
const LOG = fixturePath('corpus/dovecot/dovecot.log');

describe('Dovecot census: generated real-daemon corpus', () => {
  it('reports IMAP in the mailbox section, never in the SMTP figures', async () => {
    const r = await report([LOG]);
    assert.equal(r.inbound.totals.sessions, 0);
    assert.equal(r.outbound.totals.sessions, 0);
    assert.deepEqual(r.services, ['imap']);
    assert.deepEqual(r.mtas, ['dovecot']);
  });

  it('sessions, TLS, failed, plaintext and the spread equal what was driven', async () => {
    const r = await report([LOG]);
    const t = truth.counts.in;
    const m = r.mailbox.totals;
    assert.equal(m.sessions, t.sessions);
    assert.equal(m.tls, t.tls);
    // d10 sent STARTTLS and hung up (`starttls_abandoned`): Dovecot logs `TLS handshaking: Connection closed`, a
    // failed handshake to us (reason lost-connection).
    assert.equal(m.failed, t.tls_failed + t.starttls_abandoned);
    // truth.json counts d06 as plaintext: a LOGIN without STARTTLS. Dovecot logged it as `secured` because the
    // client connected from the server's own address (127.0.0.1 → 127.0.0.1; client-common.c treats that, and
    // login_trusted_networks, as secure). We count it apart, as `trusted`: unencrypted, but not a plaintext
    // client an admin has to chase. Both together are what truth calls plaintext.
    assert.equal(m.plaintext, 0);
    assert.equal(m.trusted, 1);
    assert.equal(m.plaintext + (m.trusted ?? 0), t.plaintext);
    assert.deepEqual(spreadByIana(r.mailbox), byIana(t.by_protocol_cipher));
    assert.deepEqual(r.mailbox.plaintext, []);
  });

  it('classifies each failure the way the driven client provoked it', async () => {
    const r = await report([LOG]);
    // d07 (TLSv1 over STARTTLS) is logged only as `SSL_accept() syscall failed: Invalid argument` (Dovecot 2.3.19
    // with OpenSSL 3 hides the reason): `other`. d08 AES128-SHA: no shared cipher. d09 TLSv1.1 on imaps:
    // unsupported protocol. d10: lost connection.
    assert.deepEqual(r.mailbox.failures[0]?.reasons, {
      'unsupported-protocol': 1,
      'no-shared-cipher': 1,
      'lost-connection': 1,
      other: 1,
    });
    // Dovecot logs `rip=` only: the peer is unnamed, not an unknown client.
    assert.deepEqual(r.mailbox.failures[0]?.peer, { host: null, ip: '127.0.0.1', nameLogged: false });
    assert.ok(r.mailbox.spread.every((s) => s.unknownClients === 0));
  });

  it('gives every line exactly one outcome, none malformed', async () => {
    const r = await report([LOG]);
    const c = r.coverage;
    assert.equal(c.lines, fs.readFileSync(LOG, 'utf8').split('\n').length - 1);
    assert.equal(c.events + c.unrecognized + c.malformed + c.foreign, c.lines);
    assert.equal(c.malformed, 0);
    assert.equal(c.events, 10); // one per login-process line
  });

  it('names the trusted sessions and the mailbox services in the table', async () => {
    const r = await report([LOG]);
    const table = renderTable(r, { color: false, top: 20 });
    assert.match(
      table,
      /^IMAP\/POP3 \(imap\) {2}10 sessions · 5 TLS .* 0 plaintext · 1 trusted \(no TLS, server-trusted\)/m,
    );
  });
});

describe('Dovecot census: real public lines and default formats', () => {
  it('reads the real corpus without a malformed line', async () => {
    const r = await report([fixturePath('corpus/real/dovecot.log')]);
    assert.equal(r.coverage.malformed, 0);
    assert.deepEqual(r.services, ['imap', 'managesieve', 'pop3']);
    const notLogged = r.mailbox.spread.find((s) => s.cipher === '(not logged)');
    assert.equal(notLogged?.protocol, 'unknown');
    assert.match(notLogged?.note ?? '', /%k/);
  });

  it('counts a default-format (no %k) login as TLS of unknown protocol, with a note naming %k', async () => {
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=198.51.100.1, lip=192.0.2.1, mpid=101, TLS, session=<AAAAAAAAAAAAAAAA>',
        'Nov 20 10:00:01 mx dovecot: pop3-login: Login: user=<b>, method=PLAIN, rip=198.51.100.2, lip=192.0.2.1, mpid=102, TLS, session=<BBBBBBBBBBBBBBBB>',
      ],
      'mail.log',
    );
    const r = await report([p]);
    assert.equal(r.mailbox.totals.tls, 2);
    assert.deepEqual(
      r.mailbox.spread.map((s) => [s.protocol, s.cipher, s.count, s.service]),
      [['unknown', '(not logged)', 2, ['imap', 'pop3']]],
    );
    const table = renderTable(r, { color: false, top: 20 });
    assert.match(table, /note: unknown \(not logged\): Dovecot logged TLS without protocol and cipher: add %k/);
  });

  it('tells plaintext logins, silent plaintext connections and trusted ones apart', async () => {
    // Lines as Dovecot 2.3 writes them without TLS (log-formats.md §6: no TLS element = plaintext).
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=198.51.100.3, lip=192.0.2.1, mpid=103, session=<CCCCCCCCCCCCCCCC>',
        'Nov 20 10:00:01 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<b>, method=PLAIN, rip=198.51.100.4, lip=192.0.2.1, session=<DDDDDDDDDDDDDDDD>',
        'Nov 20 10:00:02 mx dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=198.51.100.5, lip=192.0.2.1, session=<EEEEEEEEEEEEEEEE>',
        'Nov 20 10:00:03 mx dovecot: imap-login: Login: user=<c>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.1, mpid=104, secured, session=<FFFFFFFFFFFFFFFF>',
      ],
      'mail.log',
    );
    const r = await report([p]);
    const m = r.mailbox.totals;
    assert.deepEqual([m.sessions, m.plaintext, m.noCommand, m.trusted, m.tls], [4, 2, 1, 1, 0]);
    assert.deepEqual(
      r.mailbox.plaintext.map((e) => e.peer.ip),
      ['198.51.100.3', '198.51.100.4'],
    );
  });

  it('counts Dovecot submission as inbound SMTP, and keeps --exclude-unknown from dropping unnamed peers', async () => {
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx dovecot: submission-login: Login: user=<a>, method=PLAIN, rip=198.51.100.6, lip=192.0.2.1, mpid=105, TLS, TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits), session=<GGGGGGGGGGGGGGGG>',
        'Nov 20 10:00:01 mx dovecot: imap-login: Login: user=<b>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, mpid=106, TLS, TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits), session=<HHHHHHHHHHHHHHHH>',
      ],
      'mail.log',
    );
    const all = await report([p]);
    assert.deepEqual([all.inbound.totals.tls, all.mailbox.totals.tls], [1, 1]);
    assert.deepEqual(all.inbound.spread[0]?.service, ['submission']);
    const named = await report([p], { filter: { excludeUnknown: true } });
    assert.deepEqual([named.inbound.totals.tls, named.mailbox.totals.tls], [1, 1]);
  });

  it('reads the 2.4 wording and a TLS handshake cut short', async () => {
    const p = writeLog(
      [
        'Nov 20 10:00:00 mx dovecot: imap-login: Login aborted: Connection closed (disconnected during TLS handshake) (tls_handshake_not_finished): user=<>, rip=198.51.100.8, lip=192.0.2.1, TLS handshaking, session=<IIIIIIIIIIIIIIII>',
      ],
      'mail.log',
    );
    const r = await report([p]);
    assert.deepEqual(r.mailbox.failures[0]?.reasons, { 'lost-connection': 1 });
    assert.equal(r.mailbox.failures[0]?.lastDetail, 'disconnected during TLS handshake');
  });
});
