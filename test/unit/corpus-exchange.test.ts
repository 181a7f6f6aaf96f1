// The Exchange census: the real public lines (test/fixtures/corpus/real/exchange.log), and whole protocol-log
// files built from the documented format (log-formats.md §7: MicrosoftDocs protocol-logging.md columns and events,
// the real success line, the failure wording of Microsoft's support articles), because no public log with `+`/`-`
// records was found. The constructed records are marked as such; their TLS text is copied from the real lines.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type CensusOptions, census } from '../../src/census/census.js';
import { CSV_PROGRAM, HEADER_PROGRAM, splitCsv } from '../../src/dialects/exchange.js';
import {
  CSV_PROGRAM as ENVELOPE_CSV_PROGRAM,
  HEADER_PROGRAM as ENVELOPE_HEADER_PROGRAM,
} from '../../src/envelope/parse-envelope.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { renderTable } from '../../src/render/table.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';

async function report(paths: string[], options: CensusOptions = {}): Promise<ReportData> {
  const r = await census(resolveInputs(paths), { year: 2026, timezone: 'UTC', ...options });
  return buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
}

function write(name: string, lines: string[], eol = '\r\n'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-exchange-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${lines.join(eol)}${eol}`);
  return p;
}

const FIELDS =
  '#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context';
const header = (type: 'Receive' | 'Send', date: string) => [
  '#Software: Microsoft Exchange Server',
  '#Version: 15.0.0.0',
  `#Log-type: SMTP ${type} Protocol Log`,
  `#Date: ${date}`,
  FIELDS,
];
const TLS12_SERVER =
  '"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits"';
const TLS10_CLIENT =
  '"TLS protocol SP_PROT_TLS1_0_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA1 with strength 160 bits and key exchange algorithm CALG_ECDHE with strength 256 bits"';
const RECV = 'MX1\\Default Frontend MX1';
const SEND = 'Outbound to Internet';

/** A RECV log: two header blocks (Exchange starts a new one when the service restarts), four sessions. */
const RECV_LOG = [
  ...header('Receive', '2026-11-20T10:00:00.000Z'),
  // A: STARTTLS, TLS 1.2, one message.
  `2026-11-20T10:00:01.000Z,${RECV},08DE0000000000A1,0,10.0.0.5:25,198.51.100.10:50001,+,,`,
  `2026-11-20T10:00:01.001Z,${RECV},08DE0000000000A1,1,10.0.0.5:25,198.51.100.10:50001,>,"220 mx1.example.net Microsoft ESMTP MAIL Service ready at Fri, 20 Nov 2026 10:00:01 +0000",`,
  `2026-11-20T10:00:01.002Z,${RECV},08DE0000000000A1,2,10.0.0.5:25,198.51.100.10:50001,<,EHLO mail.example.org,`,
  `2026-11-20T10:00:01.003Z,${RECV},08DE0000000000A1,3,10.0.0.5:25,198.51.100.10:50001,<,STARTTLS,`,
  `2026-11-20T10:00:01.004Z,${RECV},08DE0000000000A1,4,10.0.0.5:25,198.51.100.10:50001,>,220 2.0.0 SMTP server ready,`,
  `2026-11-20T10:00:01.100Z,${RECV},08DE0000000000A1,5,10.0.0.5:25,198.51.100.10:50001,*,,${TLS12_SERVER}`,
  `2026-11-20T10:00:01.200Z,${RECV},08DE0000000000A1,6,10.0.0.5:25,198.51.100.10:50001,<,MAIL FROM:<a@example.org> SIZE=1000,`,
  `2026-11-20T10:00:01.300Z,${RECV},08DE0000000000A1,7,10.0.0.5:25,198.51.100.10:50001,-,,Local`,
  // B: plaintext, one message.
  `2026-11-20T10:00:02.000Z,${RECV},08DE0000000000A2,0,10.0.0.5:25,198.51.100.11:50002,+,,`,
  `2026-11-20T10:00:02.001Z,${RECV},08DE0000000000A2,1,10.0.0.5:25,198.51.100.11:50002,<,EHLO old.example.com,`,
  `2026-11-20T10:00:02.002Z,${RECV},08DE0000000000A2,2,10.0.0.5:25,198.51.100.11:50002,<,MAIL FROM:<b@example.com>,`,
  `2026-11-20T10:00:02.003Z,${RECV},08DE0000000000A2,3,10.0.0.5:25,198.51.100.11:50002,-,,Remote(SocketError)`,
  ...header('Receive', '2026-11-20T11:00:00.000Z'),
  // C: STARTTLS, then the handshake fails.
  `2026-11-20T11:00:01.000Z,${RECV},08DE0000000000A3,0,10.0.0.5:25,[2001:db8::12]:50003,+,,`,
  `2026-11-20T11:00:01.001Z,${RECV},08DE0000000000A3,1,10.0.0.5:25,[2001:db8::12]:50003,<,STARTTLS,`,
  `2026-11-20T11:00:01.002Z,${RECV},08DE0000000000A3,2,10.0.0.5:25,[2001:db8::12]:50003,*,,TLS negotiation failed with error UnknownCredentials`,
  `2026-11-20T11:00:01.003Z,${RECV},08DE0000000000A3,3,10.0.0.5:25,[2001:db8::12]:50003,-,,Local`,
  // D: connects and leaves without a command.
  `2026-11-20T11:00:02.000Z,${RECV},08DE0000000000A4,0,10.0.0.5:25,198.51.100.13:50004,+,,`,
  `2026-11-20T11:00:02.001Z,${RECV},08DE0000000000A4,1,10.0.0.5:25,198.51.100.13:50004,>,"220 mx1.example.net Microsoft ESMTP MAIL Service ready at Fri, 20 Nov 2026 11:00:02 +0000",`,
  `2026-11-20T11:00:02.002Z,${RECV},08DE0000000000A4,2,10.0.0.5:25,198.51.100.13:50004,-,,Remote(ConnectionReset)`,
];

/** A SEND log: one TLS 1.0 session and one whose TLS fails (Exchange then retries without TLS, new session). */
const SEND_LOG = [
  ...header('Send', '2026-11-20T10:00:00.000Z'),
  `2026-11-20T10:05:00.000Z,${SEND},08DE0000000000B1,0,10.0.0.5:40001,203.0.113.25:25,+,,`,
  `2026-11-20T10:05:00.001Z,${SEND},08DE0000000000B1,1,10.0.0.5:40001,203.0.113.25:25,>,EHLO mx1.example.net,`,
  `2026-11-20T10:05:00.002Z,${SEND},08DE0000000000B1,2,10.0.0.5:40001,203.0.113.25:25,>,STARTTLS,`,
  `2026-11-20T10:05:00.100Z,${SEND},08DE0000000000B1,3,10.0.0.5:40001,203.0.113.25:25,*,,${TLS10_CLIENT}`,
  `2026-11-20T10:05:00.200Z,${SEND},08DE0000000000B1,4,10.0.0.5:40001,203.0.113.25:25,>,MAIL FROM:<c@example.net>,`,
  `2026-11-20T10:05:00.300Z,${SEND},08DE0000000000B1,5,10.0.0.5:40001,203.0.113.25:25,-,,Local`,
  `2026-11-20T10:06:00.000Z,${SEND},08DE0000000000B2,0,10.0.0.5:40002,203.0.113.26:25,+,,`,
  `2026-11-20T10:06:00.001Z,${SEND},08DE0000000000B2,1,10.0.0.5:40002,203.0.113.26:25,>,STARTTLS,`,
  `2026-11-20T10:06:00.002Z,${SEND},08DE0000000000B2,2,10.0.0.5:40002,203.0.113.26:25,*,,TLS negotiation failed with error SocketError`,
  `2026-11-20T10:06:00.003Z,${SEND},08DE0000000000B2,3,10.0.0.5:40002,203.0.113.26:25,-,,Local`,
  `2026-11-20T10:06:01.000Z,${SEND},08DE0000000000B3,0,10.0.0.5:40003,203.0.113.26:25,+,,`,
  `2026-11-20T10:06:01.001Z,${SEND},08DE0000000000B3,1,10.0.0.5:40003,203.0.113.26:25,>,EHLO mx1.example.net,`,
  `2026-11-20T10:06:01.002Z,${SEND},08DE0000000000B3,2,10.0.0.5:40003,203.0.113.26:25,>,MAIL FROM:<d@example.net>,`,
  `2026-11-20T10:06:01.003Z,${SEND},08DE0000000000B3,3,10.0.0.5:40003,203.0.113.26:25,-,,Local`,
];

describe('Exchange census: protocol-log files', () => {
  it('counts Receive sessions: TLS, plaintext, failure and a silent connection', async () => {
    const r = await report([write('RECV2026112010-1.LOG', RECV_LOG)]);
    const t = r.inbound.totals;
    assert.deepEqual(
      [t.sessions, t.tls, t.plaintext, t.failed, t.noCommand, t.incomplete, t.messages],
      [4, 1, 1, 1, 1, 0, 2],
    );
    assert.deepEqual([t.tlsMessages, t.plaintextMessages], [1, 1]);
    assert.equal(r.coverage.malformed, 0);
    assert.deepEqual(r.services, ['smtp-receive']);
    assert.deepEqual(r.mtas, ['exchange']);
    assert.deepEqual(r.inbound.failures[0], {
      peer: { host: null, ip: '2001:db8::12', nameLogged: false },
      count: 1,
      reasons: { certificate: 1 },
      lastDetail: 'TLS negotiation failed with error UnknownCredentials',
    });
  });

  it('names the lowest-rated candidate suite and says the mapping is ambiguous', async () => {
    const r = await report([write('RECV2026112010-1.LOG', RECV_LOG)]);
    const row = r.inbound.spread[0]!;
    assert.equal(row.protocol, 'TLSv1.2');
    // ECDHE_RSA (secure) and ECDHE_ECDSA (recommended) both fit: the lower rating is counted.
    assert.equal(row.iana, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    assert.equal(row.rating, 'secure');
    assert.equal(row.cipher, 'CALG_AES_128/CALG_SHA_256/CALG_ECDH_EPHEM');
    assert.match(row.note ?? '', /ambiguous between TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_/);
    // Exchange logs no client names: the peer is unnamed, not an unknown client.
    assert.equal(row.unknownClients, 0);
    const table = renderTable(r, { color: false, top: 20 });
    assert.match(table, /note: TLSv1\.2 CALG_AES_128\/CALG_SHA_256\/CALG_ECDH_EPHEM: Exchange logs algorithms/);
    assert.match(table, /\[2001:db8::12\]/);
    assert.doesNotMatch(table, /unknown\[2001:db8::12\]/);
  });

  it('counts Send sessions as outbound, and Receive and Send files in one run', async () => {
    const recv = write('RECV2026112010-1.LOG', RECV_LOG);
    const send = write('SEND2026112010-1.LOG', SEND_LOG);
    const r = await report([recv, send]);
    const o = r.outbound.totals;
    assert.deepEqual([o.sessions, o.tls, o.failed, o.plaintext, o.messages], [3, 1, 1, 1, 2]);
    assert.equal(r.outbound.spread[0]?.protocol, 'TLSv1');
    assert.equal(r.outbound.spread[0]?.iana, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA');
    assert.equal(r.outbound.spread[0]?.legacy, true);
    assert.deepEqual(r.outbound.failures[0]?.reasons, { 'lost-connection': 1 });
    assert.equal(r.outbound.plaintext[0]?.alsoFailedTls, true);
    assert.equal(r.inbound.totals.sessions, 4);
    assert.deepEqual(r.services, ['smtp-receive', 'smtp-send']);
  });

  it('reads LF files, a reordered #Fields header and a fragment without headers', async () => {
    const reordered = [
      '#Log-type: SMTP Receive Protocol Log',
      '#Fields: date-time,session-id,event,remote-endpoint,local-endpoint,data,context,connector-id,sequence-number',
      `2026-11-20T10:00:01.000Z,08DE0000000000C1,+,198.51.100.20:50001,10.0.0.5:25,,,${RECV},0`,
      `2026-11-20T10:00:01.100Z,08DE0000000000C1,*,198.51.100.20:50001,10.0.0.5:25,,${TLS12_SERVER},${RECV},1`,
      `2026-11-20T10:00:01.200Z,08DE0000000000C1,-,198.51.100.20:50001,10.0.0.5:25,,Local,${RECV},2`,
    ];
    const r1 = await report([write('RECV2026112010-2.LOG', reordered, '\n')]);
    assert.deepEqual([r1.inbound.totals.sessions, r1.inbound.totals.tls], [1, 1]);
    // No header at all: the default columns, and the remote end on port 25 makes it a Send record.
    const fragment = [
      `2026-11-20T10:05:00.000Z,${SEND},08DE0000000000C2,0,10.0.0.5:40001,203.0.113.30:25,+,,`,
      `2026-11-20T10:05:00.001Z,${SEND},08DE0000000000C2,1,10.0.0.5:40001,203.0.113.30:25,>,EHLO mx1.example.net,`,
      `2026-11-20T10:05:00.002Z,${SEND},08DE0000000000C2,2,10.0.0.5:40001,203.0.113.30:25,-,,Local`,
    ];
    const r2 = await report([write('fragment.log', fragment)]);
    assert.deepEqual([r2.outbound.totals.sessions, r2.outbound.totals.plaintext], [1, 1]);
  });

  it('reads the real public lines without a malformed one', async () => {
    const r = await report([fixturePath('corpus/real/exchange.log')], { mta: ['exchange'] });
    assert.equal(r.coverage.malformed, 0);
    assert.deepEqual([r.inbound.totals.tls, r.outbound.totals.tls], [1, 1]);
    assert.equal(r.outbound.spread[0]?.iana, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA');
  });
});

describe('Exchange dialect: pieces', () => {
  it('uses the envelope parser’s program names for header lines and CSV records', () => {
    assert.equal(HEADER_PROGRAM, ENVELOPE_HEADER_PROGRAM);
    assert.equal(CSV_PROGRAM, ENVELOPE_CSV_PROGRAM);
  });

  it('splits CSV records with quoted commas and doubled quotes', () => {
    assert.deepEqual(splitCsv('a,"b, c",,"d ""e""",'), ['a', 'b, c', '', 'd "e"', '']);
    assert.deepEqual(splitCsv('x,y'), ['x', 'y']);
    assert.equal(splitCsv('a,"open'), null);
  });
});
