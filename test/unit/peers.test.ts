import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addSession, emptyView } from '../../src/aggregate/census-view.js';
import { domainOf, groupByDomain, networkOf, peerRows } from '../../src/aggregate/peer-rows.js';
import type { Session } from '../../src/model/types.js';
import { renderPeersText } from '../../src/render/peers-output.js';
import { columns } from '../../src/render/table.js';

function tls(
  ip: string,
  host: string | null,
  protocol: 'SSLv3' | 'TLSv1' | 'TLSv1.2' | 'TLSv1.3',
  cipher: string,
  messages = 1,
): Session {
  return {
    mta: 'postfix',
    service: 'smtpd',
    direction: 'inbound',
    peer: { host, ip },
    startMs: Date.UTC(2026, 10, 20, 10),
    endMs: null,
    outcome: 'tls',
    handshake: { protocol, cipher, bits: null, trust: null },
    failure: null,
    messages,
  };
}

describe('peers', () => {
  it('knows networks and registrable domains (Public Suffix List)', () => {
    assert.equal(networkOf('192.0.2.77'), '192.0.2.0/24');
    assert.equal(networkOf('2001:db8:1:2:3::7'), '2001:db8:1:2::/64');
    assert.equal(networkOf('2001:558:fe21:2a::6'), '2001:558:fe21:2a::/64');
    assert.equal(networkOf('unknown'), 'unknown');
    assert.equal(domainOf('mail-lf1-f52.google.com'), 'google.com');
    assert.equal(domainOf('mx.a.example.co.uk'), 'example.co.uk');
    assert.equal(domainOf(null), null);
  });

  it('gives each peer its best and worst handshake and groups them by domain', () => {
    const v = emptyView();
    addSession(v, tls('192.0.2.1', 'mx1.old.example', 'SSLv3', 'DHE-RSA-AES256-SHA'));
    addSession(v, tls('192.0.2.1', 'mx1.old.example', 'TLSv1.2', 'ECDHE-RSA-AES256-GCM-SHA384', 2));
    addSession(v, tls('192.0.2.2', 'mx2.old.example', 'TLSv1', 'AES128-SHA'));
    addSession(v, tls('198.51.100.9', 'mx.new.example', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384'));
    const rows = peerRows(v);
    const p1 = rows.find((r) => r.peer.ip === '192.0.2.1');
    assert.equal(p1?.best?.protocol, 'TLSv1.2');
    assert.equal(p1?.worst?.protocol, 'SSLv3');
    assert.equal(p1?.rating, 'insecure');
    assert.equal(p1?.messages, 3);
    assert.deepEqual(
      peerRows(v, { legacy: true }).map((r) => r.peer.ip),
      ['192.0.2.1', '192.0.2.2'],
    );
    const groups = groupByDomain(peerRows(v, { legacy: true }));
    assert.equal(groups.length, 1);
    assert.equal(groups[0]?.group, 'old.example');
    assert.equal(groups[0]?.peers, 2);
    assert.equal(groups[0]?.worst?.protocol, 'SSLv3');
    assert.deepEqual(
      peerRows(v, { domain: 'new.example' }).map((r) => r.peer.ip),
      ['198.51.100.9'],
    );
  });

  it('takes the worst handshake by rating, so an insecure suite on TLS 1.2 is worse than TLS 1.0 (review)', () => {
    const v = emptyView();
    // Anonymous DH on TLS 1.2 (insecure) and ECDHE on TLS 1.0 (weak), as the generated corpus's localhost has.
    addSession(v, tls('192.0.2.5', 'mx.mixed.example', 'TLSv1.2', 'ADH-AES256-GCM-SHA384'));
    addSession(v, tls('192.0.2.5', 'mx.mixed.example', 'TLSv1', 'ECDHE-RSA-AES128-SHA'));
    // Sendmail's `TLSv1/SSLv3` (protocol unknown) with a weak suite, beside an insecure TLS 1.2 one.
    addSession(v, tls('192.0.2.6', 'mx.sendmail.example', 'TLSv1.2', 'ADH-AES256-GCM-SHA384'));
    addSession(v, {
      ...tls('192.0.2.6', 'mx.sendmail.example', 'TLSv1.2', 'AES128-SHA'),
      handshake: { protocol: 'unknown', cipher: 'AES128-SHA', bits: null, trust: null },
    });
    const rows = peerRows(v);
    const mixed = rows.find((r) => r.peer.ip === '192.0.2.5')!;
    assert.deepEqual([mixed.worst?.cipher, mixed.rating], ['ADH-AES256-GCM-SHA384', 'insecure']);
    assert.deepEqual([mixed.best?.protocol, mixed.best?.rating], ['TLSv1', 'weak']);
    const sendmail = rows.find((r) => r.peer.ip === '192.0.2.6')!;
    assert.deepEqual([sendmail.worst?.cipher, sendmail.rating], ['ADH-AES256-GCM-SHA384', 'insecure']);
    assert.deepEqual(
      peerRows(v, { legacy: true }).map((r) => r.peer.ip),
      ['192.0.2.5', '192.0.2.6'],
    );
    // A group's worst is chosen the same way.
    const g = groupByDomain(rows.filter((r) => r.peer.ip === '192.0.2.5'));
    assert.deepEqual([g[0]?.worst?.cipher, g[0]?.rating], ['ADH-AES256-GCM-SHA384', 'insecure']);
  });

  it('renders JSON with schema tlscensus/peers@1 and escapes names', () => {
    const v = emptyView();
    addSession(v, tls('192.0.2.1', '=cmd|x\u001b[2J', 'TLSv1', 'AES128-SHA'));
    const cov = { lines: 1, events: 1, unrecognized: 0, malformed: 0, foreign: 0 };
    const json = JSON.parse(renderPeersText('json', peerRows(v), null, cov)) as { schema: string; peers: unknown[] };
    assert.equal(json.schema, 'tlscensus/peers@1');
    assert.equal(json.peers.length, 1);
    assert.ok(!renderPeersText('table', peerRows(v), null, cov).includes('\u001b'));
    assert.match(renderPeersText('csv', peerRows(v), null, cov), /,'=cmd\|x\\x1b\[2J,/);
  });
});

describe('peers output at scale', () => {
  it('aligns any number of rows (spreading 200,000 of them into a call overflowed the stack)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [String(i), `peer-${i}`]);
    const lines = columns(['n', 'peer'], rows, [true, false]);
    assert.equal(lines.length, 200_001);
    assert.equal(lines[1], '     0  peer-0');
  });
});
