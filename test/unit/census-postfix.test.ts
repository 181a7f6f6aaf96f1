// The Postfix census against logs whose truth is known independently of this code: the generated corpus
// was written by a real Postfix while scripted clients drove known sessions (truth.json says what was driven).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type CensusOptions, census } from '../../src/census/census.js';
import { lookupCipher } from '../../src/ciphers/lookup.js';
import { REPORT_FORMATS, renderedText } from '../../src/render/render-report.js';
import { buildReport, type DirectionReport, type ReportData } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[], options: CensusOptions = {}): Promise<ReportData> {
  const r = await census(resolveInputs(paths), { year: 2026, timezone: 'UTC', ...options });
  return buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
}

interface TruthCounts {
  sessions: number;
  tls: number;
  plaintext: number;
  tls_failed: number;
  starttls_abandoned: number;
  by_protocol_cipher: Record<string, number>;
}

function byProtocolCipher(d: DirectionReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of d.spread) out[`${row.protocol} ${row.cipher}`] = row.count;
  return out;
}

describe('Postfix census: generated real-daemon corpus', () => {
  const truth = JSON.parse(fs.readFileSync(fixturePath('corpus/postfix/truth.json'), 'utf8')) as {
    counts: { in: TruthCounts; out: TruthCounts };
  };

  for (const [dir, key] of [
    ['inbound', 'in'],
    ['outbound', 'out'],
  ] as const) {
    it(`${dir}: sessions, TLS, failed, plaintext and the spread equal what was driven`, async () => {
      const r = await report([fixturePath('corpus/postfix/maillog')]);
      const t = truth.counts[key];
      const d = r[dir];
      assert.equal(d.totals.sessions, t.sessions);
      assert.equal(d.totals.tls, t.tls);
      // A client that sends STARTTLS and then hangs up (`starttls_abandoned`) is a failed handshake to us,
      // with the reason `lost-connection`.
      assert.equal(d.totals.failed, t.tls_failed + t.starttls_abandoned);
      assert.equal(d.totals.plaintext, t.plaintext);
      assert.deepEqual(byProtocolCipher(d), t.by_protocol_cipher);
      for (const row of d.spread) assert.equal(row.iana, lookupCipher(row.cipher)?.iana ?? null);
    });
  }

  it('classifies each failure the way the driven client provoked it', async () => {
    const r = await report([fixturePath('corpus/postfix/maillog')]);
    assert.deepEqual(r.inbound.failures[0]?.reasons, {
      'unsupported-protocol': 2,
      'no-shared-cipher': 3,
      'wrong-version-number': 1,
      alert: 1,
      'lost-connection': 1,
    });
    assert.deepEqual(r.outbound.failures[0]?.reasons, { 'unsupported-protocol': 1 });
    // r03: the failed outbound STARTTLS is followed by a plaintext retry: the peer is also a plaintext peer.
    assert.equal(r.outbound.plaintext[0]?.alsoFailedTls, true);
  });

  it('counts the messages each session carried', async () => {
    const r = await report([fixturePath('corpus/postfix/maillog')]);
    // 12 TLS sessions with DATA (s01-s10, s20, s21) + 2 relayed in over TLS; s19 hung up after the handshake.
    assert.equal(r.inbound.totals.tlsMessages, 14);
    assert.equal(r.inbound.totals.plaintextMessages, 8);
  });

  it('gives every line exactly one outcome', async () => {
    const r = await report([fixturePath('corpus/postfix/maillog')]);
    const c = r.coverage;
    const lines = fs.readFileSync(fixturePath('corpus/postfix/maillog'), 'utf8').split('\n').length - 1;
    assert.equal(c.lines, lines);
    assert.equal(c.events + c.unrecognized + c.malformed + c.foreign, c.lines);
    assert.equal(c.malformed, 0);
  });
});

describe('Postfix census: real public lines', () => {
  it('reads journald JSON from a file, detected by content', async () => {
    const r = await report([fixturePath('corpus/real/postfix-journal.jsonl')]);
    // Four comment lines, one postfix/smtpd NOQUEUE reject (no TLS fact) and one non-mail entry whose
    // MESSAGE is a byte array.
    assert.equal(r.coverage.lines, 6);
    assert.equal(r.coverage.foreign, 5);
    assert.equal(r.coverage.unrecognized, 1);
    assert.equal(r.coverage.malformed, 0);
  });

  it('reads the real corpus without a malformed line and finds its TLS facts', async () => {
    const r = await report([fixturePath('corpus/real/postfix.log')]);
    assert.equal(r.coverage.malformed, 0);
    const protocols = new Set(r.inbound.spread.map((s) => s.protocol));
    assert.ok(protocols.has('TLSv1.3') && protocols.has('TLSv1'));
    // tlsproxy's `[ip]:port` has no verified name: an unknown client.
    const tdes = r.inbound.spread.find((s) => s.cipher === 'DES-CBC3-SHA');
    assert.equal(tdes?.unknownClients, 1);
    assert.equal(tdes?.rating, 'weak');
  });
});

describe('Postfix census: sessions', () => {
  function write(lines: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-census-'));
    const p = path.join(dir, 'maillog');
    fs.writeFileSync(p, `${lines.join('\n')}\n`);
    return p;
  }

  it('counts a connection that sent no command apart from TLS and plaintext', async () => {
    const p = write([
      'Nov 20 10:00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.7]',
      'Nov 20 10:00:05 mx postfix/smtpd[1]: lost connection after CONNECT from unknown[192.0.2.7]',
      'Nov 20 10:00:05 mx postfix/smtpd[1]: disconnect from unknown[192.0.2.7] commands=0/0',
    ]);
    const r = await report([p]);
    assert.deepEqual(
      [r.inbound.totals.sessions, r.inbound.totals.noCommand, r.inbound.totals.plaintext, r.inbound.totals.tls],
      [1, 1, 0, 0],
    );
  });

  it('treats a 2.x connect/disconnect pair without a TLS line as plaintext', async () => {
    const p = write([
      'Oct  1 12:22:56 u86 postfix/smtpd[12395]: connect from unknown[192.168.9.1]',
      'Oct  1 12:22:56 u86 postfix/smtpd[12395]: 81CBA28781: client=unknown[192.168.9.1]',
      'Oct  1 12:22:56 u86 postfix/smtpd[12395]: disconnect from unknown[192.168.9.1]',
    ]);
    const r = await report([p]);
    assert.equal(r.inbound.totals.plaintext, 1);
    assert.deepEqual(r.inbound.plaintext[0], {
      peer: { host: null, ip: '192.168.9.1' },
      sessions: 1,
      messages: 1,
      alsoFailedTls: false,
      fallbackSessions: 0,
      fallbackMessages: 0,
    });
  });

  it('counts a delivery over a cached TLS connection (`TLS connection reused`) as TLS (review)', async () => {
    // The line's shape is Postfix's smtp_session.c (log-formats.md §2.1; seen in source, not yet in a live log).
    const p = write([
      'Nov 20 10:00:00 mx postfix/smtp[202]: Verified TLS connection reused to mx1.example.org[192.0.2.25]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      'Nov 20 10:00:01 mx postfix/smtp[202]: 6ABC123DEF: to=<b@example.org>, relay=mx1.example.org[192.0.2.25]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 OK)',
    ]);
    const r = await report([p]);
    assert.deepEqual(
      [r.outbound.totals.sessions, r.outbound.totals.tls, r.outbound.totals.plaintext, r.outbound.totals.tlsMessages],
      [1, 1, 0, 1],
    );
    assert.deepEqual(byProtocolCipher(r.outbound), { 'TLSv1.3 TLS_AES_256_GCM_SHA384': 1 });
  });

  it('reads tlsproxy failures: the reason on its own line, and the outbound connections of smtp (review)', async () => {
    // Shapes from Postfix's tlsproxy.c and tlsproxy_state.c (log-formats.md §2.2, §2.3); the reason line as smtpd
    // writes it, which tlsproxy shares (tls_print_errors).
    const p = write([
      'Nov 20 10:00:00 mx postfix/tlsproxy[42]: CONNECT from [192.168.1.13]:1001',
      'Nov 20 10:00:01 mx postfix/tlsproxy[42]: SSL_accept error from [192.168.1.13]:1001: -1',
      'Nov 20 10:00:01 mx postfix/tlsproxy[42]: warning: TLS library problem: error:0A000102:SSL routines::unsupported protocol:../ssl/statem/statem_srvr.c:1657:',
      'Nov 20 10:00:01 mx postfix/tlsproxy[42]: DISCONNECT [192.168.1.13]:1001',
      'Nov 20 10:05:00 mx postfix/tlsproxy[42]: CONNECT to [192.0.2.26]:25',
      'Nov 20 10:05:01 mx postfix/tlsproxy[42]: SSL_connect error to mx2.example.org[192.0.2.26]:25: -1',
      'Nov 20 10:05:01 mx postfix/tlsproxy[42]: warning: TLS library problem: error:0A00042E:SSL routines::tlsv1 alert protocol version:../ssl/record/rec_layer_s3.c:1605:SSL alert number 70:',
      'Nov 20 10:05:01 mx postfix/tlsproxy[42]: DISCONNECT [192.0.2.26]:25',
    ]);
    const r = await report([p]);
    assert.deepEqual([r.inbound.totals.sessions, r.inbound.totals.failed], [1, 1]);
    assert.deepEqual(
      r.inbound.failures.map((f) => [f.peer.ip, Object.keys(f.reasons)]),
      [['192.168.1.13', ['unsupported-protocol']]],
    );
    assert.deepEqual([r.outbound.totals.sessions, r.outbound.totals.failed], [1, 1]);
    assert.deepEqual(
      r.outbound.failures.map((f) => [f.peer.host, Object.keys(f.reasons)]),
      [['mx2.example.org', ['unsupported-protocol']]],
    );
    // A reason line refines only a failure of the moment before it (a second review: a reason half an hour later,
    // of another connection, turned the failure into a lost connection).
    const late = await report([
      write([
        'Nov 20 10:00:01 mx postfix/tlsproxy[42]: SSL_connect error to mx2.example.org[192.0.2.26]:25: -1',
        'Nov 20 10:00:01 mx postfix/tlsproxy[42]: warning: TLS library problem: error:0A0000F4:SSL routines::unexpected message:../ssl/statem/statem.c:123:',
        'Nov 20 10:30:00 mx postfix/tlsproxy[42]: CONNECT from [198.51.100.7]:40001',
        'Nov 20 10:30:09 mx postfix/tlsproxy[42]: warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:../ssl/record/rec_layer_s3.c:322:',
      ]),
    ]);
    assert.deepEqual(
      late.outbound.failures.map((f) => Object.keys(f.reasons)),
      [['other']],
    );
  });

  it('keeps a pid reused by later sessions apart, and a session across rotated files together', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-rot-'));
    fs.writeFileSync(
      path.join(dir, 'maillog.1'),
      [
        'Nov 20 10:00:00 mx postfix/smtpd[7]: connect from a.example[192.0.2.1]',
        'Nov 20 10:00:01 mx postfix/smtpd[7]: Anonymous TLS connection established from a.example[192.0.2.1]: TLSv1 with cipher AES128-SHA (128/128 bits)',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'maillog'),
      [
        'Nov 20 10:00:02 mx postfix/smtpd[7]: 4F1A22C0A1: client=a.example[192.0.2.1]',
        'Nov 20 10:00:03 mx postfix/smtpd[7]: disconnect from a.example[192.0.2.1] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7',
        'Nov 20 10:00:04 mx postfix/smtpd[7]: connect from b.example[192.0.2.2]',
        'Nov 20 10:00:05 mx postfix/smtpd[7]: disconnect from b.example[192.0.2.2] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5',
        '',
      ].join('\n'),
    );
    const r = await report([dir]);
    assert.equal(r.inbound.totals.sessions, 2);
    assert.equal(r.inbound.totals.tlsMessages, 1);
    assert.equal(r.inbound.spread[0]?.legacy, true);
    assert.equal(r.inbound.plaintext[0]?.peer.ip, '192.0.2.2');
  });

  it('filters by time window, direction, service and unknown clients', async () => {
    const p = write([
      'Nov 20 10:00:00 mx postfix/smtpd[1]: Anonymous TLS connection established from unknown[192.0.2.1]: TLSv1.2 with cipher AES128-SHA (128/128 bits)',
      'Nov 20 11:00:00 mx postfix/submission/smtpd[2]: Anonymous TLS connection established from a.example[192.0.2.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      'Nov 20 12:00:00 mx postfix/smtp[3]: Verified TLS connection established to mx.example[192.0.2.3]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)',
      // A relayhost given by address (`[127.0.0.1]:2526`): the smtp client names it by its address, no name, yet no
      // unknown client (review: --exclude-unknown dropped every session to the smarthost).
      'Nov 20 12:30:00 mx postfix/smtp[4]: Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:2526: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
    ]);
    const counts = async (o: CensusOptions) => {
      const r = await report([p], o);
      return [r.inbound.totals.tls, r.outbound.totals.tls];
    };
    assert.deepEqual(await counts({}), [2, 2]);
    assert.deepEqual(await counts({ filter: { excludeUnknown: true } }), [1, 2]);
    assert.deepEqual(await counts({ filter: { direction: 'inbound' } }), [2, 0]);
    assert.deepEqual(await counts({ filter: { services: ['submission/smtpd'] } }), [1, 0]);
    // By master.cf service name, as whatif --mandatory-services takes it (review: an all-zero report); a daemon's
    // name alone is that daemon's own service only.
    assert.deepEqual(await counts({ filter: { services: ['submission'] } }), [1, 0]);
    assert.deepEqual(await counts({ filter: { services: ['smtpd'] } }), [1, 0]);
    assert.deepEqual(await counts({ filter: { services: ['smtpd', 'submission'] } }), [2, 0]);
    assert.deepEqual(
      await counts({ filter: { sinceMs: Date.UTC(2026, 10, 20, 10, 30), untilMs: Date.UTC(2026, 10, 20, 11, 30) } }),
      [1, 0],
    );
  });

  it('counts in "unknown" the peers of a row that no session named, not its handshakes (review)', async () => {
    const tls = (pid: number, at: string, name: string, ip: string) => [
      `Nov 20 10:${at}:00 mx postfix/smtpd[${pid}]: connect from ${name}[${ip}]`,
      `Nov 20 10:${at}:01 mx postfix/smtpd[${pid}]: Anonymous TLS connection established from ${name}[${ip}]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)`,
      `Nov 20 10:${at}:02 mx postfix/smtpd[${pid}]: disconnect from ${name}[${ip}] ehlo=2 starttls=1 quit=1 commands=4`,
    ];
    const p = write([
      // One unnamed client, three sessions: one peer, one unknown (it said "1 peer, 3 unknown").
      ...tls(101, '01', 'unknown', '198.51.100.9'),
      ...tls(102, '02', 'unknown', '198.51.100.9'),
      ...tls(103, '03', 'unknown', '198.51.100.9'),
      // Named once, unnamed once (a failed reverse lookup): it has a verified name.
      ...tls(104, '04', 'unknown', '198.51.100.10'),
      ...tls(105, '05', 'mx.example.org', '198.51.100.10'),
    ]);
    const r = await report([p]);
    const row = r.inbound.spread[0]!;
    assert.deepEqual(
      { count: row.count, peers: row.peers, unknownPeers: row.unknownPeers, unknownClients: row.unknownClients },
      { count: 5, peers: 2, unknownPeers: 1, unknownClients: 4 },
    );
    // The same in every format that shows the column.
    const text = async (f: string) => renderedText(await REPORT_FORMATS[f]!(r, { color: false, top: 20 }));
    assert.match(await text('table'), /ECDHE-RSA-AES256-GCM-SHA384 +100\.0% +secure +2 +1\n/);
    assert.match(await text('md'), /\| secure \| 2 \| 1 \|/);
    assert.match(await text('html'), /<td class="n">2<\/td><td class="n hide-s">1<\/td>/);
    const csv = (await text('csv')).split('\r\n');
    const header = csv[0]!.split(',');
    const spread = csv.find((l) => l.startsWith('spread,inbound'))!.split(',');
    assert.equal(spread[header.indexOf('unknown_peers')], '1');
    assert.equal(spread[header.indexOf('unknown_clients')], '4');
  });

  it('stops early and names the programs when nothing is a mail log', async () => {
    const p = write([
      'Nov 20 10:00:00 host sshd[1]: Accepted publickey for root',
      'Nov 20 10:00:01 host CRON[2]: (root) CMD (true)',
    ]);
    await assert.rejects(census(resolveInputs([p])), /programs seen: .*sshd/);
  });
});
