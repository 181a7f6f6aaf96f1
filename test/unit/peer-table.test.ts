// PeerTable keeps per-peer statistics in columns; it must answer exactly what one object per peer would.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Count, ipv4Key, PeerTable } from '../../src/aggregate/peer-table.js';
import { CERTIFICATE_TRUSTS } from '../../src/dialects/certificate-trust.js';
import type { FailureReason, Peer } from '../../src/model/types.js';

describe('ipv4Key', () => {
  it('keys canonical dotted quads and gives the same address back', () => {
    for (const ip of ['0.0.0.0', '1.2.3.4', '192.0.2.10', '255.255.255.255', '10.0.0.1']) {
      const key = ipv4Key(ip);
      assert.ok(key >= 0, ip);
      const t = new PeerTable();
      t.slot({ host: null, ip });
      assert.deepEqual([...t.keys()], [ip]);
    }
    assert.equal(ipv4Key('255.255.255.255'), 0xffffffff);
  });

  it('leaves every other spelling to the string keys', () => {
    for (const ip of [
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1..2.3',
      '1.2.3.4 ',
      '2001:db8::1',
      '::ffff:1.2.3.4',
      'unknown',
      '',
      '1.2.3.',
    ]) {
      assert.equal(ipv4Key(ip), -1, ip);
    }
  });
});

/** What the table must equal: one plain object per peer. */
interface Ref {
  peer: Peer;
  first: number | null;
  last: number | null;
  counts: number[];
  suites: Map<string, number>;
  reasons: Map<string, number>;
  certificates: Map<string, number>;
  detail: string | null;
  mtas: Set<string>;
  services: Set<string>;
}

type Op =
  | { kind: 'session'; ip: string; host: string | null; ms: number | null; mta: string; service: string }
  | { kind: 'handshake'; ip: string; suite: string; certificate: number }
  | { kind: 'failure'; ip: string; reason: FailureReason; detail: string | null }
  | { kind: 'plaintext'; ip: string; messages: number };

const ipArb = fc.oneof(
  fc.tuple(fc.nat(3), fc.nat(255)).map(([a, b]) => `192.0.${a}.${b}`),
  fc.constantFrom('2001:db8::1', '2001:db8::2', '010.0.0.1', 'fe80::1%eth0'),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('session' as const),
    ip: ipArb,
    host: fc.option(fc.constantFrom('a.example', 'a-very-long-host-name.example.org'), { nil: null }),
    ms: fc.option(fc.integer({ min: 1.7e12, max: 1.8e12 }), { nil: null }),
    mta: fc.constantFrom('postfix', 'exim'),
    service: fc.constantFrom('smtpd', 'submission/smtpd'),
  }),
  fc.record({
    kind: fc.constant('handshake' as const),
    ip: ipArb,
    suite: fc.constantFrom('TLSv1.2|A', 'TLSv1|B'),
    certificate: fc.nat(CERTIFICATE_TRUSTS.length - 1),
  }),
  fc.record({
    kind: fc.constant('failure' as const),
    ip: ipArb,
    reason: fc.constantFrom('no-shared-cipher' as const, 'other' as const),
    detail: fc.option(fc.constantFrom('x', 'y'), { nil: null }),
  }),
  fc.record({ kind: fc.constant('plaintext' as const), ip: ipArb, messages: fc.nat(3) }),
);

function apply(t: PeerTable, refs: Map<string, Ref>, op: Op): void {
  const peer: Peer = { host: op.kind === 'session' ? op.host : null, ip: op.ip };
  const i = t.slot(peer);
  let r = refs.get(op.ip);
  if (!r) {
    r = {
      peer,
      first: null,
      last: null,
      counts: Array(9).fill(0),
      suites: new Map(),
      reasons: new Map(),
      certificates: new Map(),
      detail: null,
      mtas: new Set(),
      services: new Set(),
    };
    refs.set(op.ip, r);
  } else if (r.peer.host === null && peer.host !== null) r.peer = peer;
  if (op.kind === 'session') {
    t.count(i, Count.Sessions);
    r.counts[Count.Sessions]! += 1;
    if (op.ms !== null) {
      t.seen(i, op.ms);
      r.first = r.first === null ? op.ms : Math.min(r.first, op.ms);
      r.last = r.last === null ? op.ms : Math.max(r.last, op.ms);
    }
    t.mta(i, op.mta);
    t.service(i, op.service);
    r.mtas.add(op.mta);
    r.services.add(op.service);
  } else if (op.kind === 'handshake') {
    t.handshake(i, op.suite, op.certificate);
    r.counts[Count.Tls]! += 1;
    const kind = CERTIFICATE_TRUSTS[op.certificate]!;
    r.certificates.set(kind, (r.certificates.get(kind) ?? 0) + 1);
    r.suites.set(op.suite, (r.suites.get(op.suite) ?? 0) + 1);
  } else if (op.kind === 'failure') {
    t.failure(i, op.reason, op.detail);
    r.counts[Count.Failed]! += 1;
    r.reasons.set(op.reason, (r.reasons.get(op.reason) ?? 0) + 1);
    if (op.detail !== null) r.detail = op.detail;
  } else {
    t.count(i, Count.Plaintext);
    t.count(i, Count.PlaintextMessages, op.messages);
    r.counts[Count.Plaintext]! += 1;
    r.counts[Count.PlaintextMessages]! += op.messages;
  }
}

function same(t: PeerTable, refs: Map<string, Ref>): void {
  assert.equal(t.size, refs.size);
  assert.deepEqual([...t.keys()], [...refs.keys()]);
  for (const [ip, r] of refs) {
    const p = t.get(ip);
    assert.ok(p && t.has(ip), ip);
    assert.deepEqual(p.peer, r.peer);
    assert.equal(p.firstMs, r.first);
    assert.equal(p.lastMs, r.last);
    assert.deepEqual(
      [p.sessions, p.tls, p.failed, p.plaintext, p.plaintextMessages],
      [
        r.counts[Count.Sessions],
        r.counts[Count.Tls],
        r.counts[Count.Failed],
        r.counts[Count.Plaintext],
        r.counts[Count.PlaintextMessages],
      ],
    );
    assert.deepEqual([...p.suites].sort(), [...r.suites].sort());
    assert.deepEqual([...p.reasons].sort(), [...r.reasons].sort());
    assert.deepEqual([...p.certificates].sort(), [...r.certificates].sort());
    assert.equal(p.lastFailureDetail, r.detail);
    assert.deepEqual([...p.mtas].sort(), [...r.mtas].sort());
    assert.deepEqual([...p.services].sort(), [...r.services].sort());
  }
  // What a report lists: failed, plaintext, or a suite that passes the test (here: TLSv1), in table order.
  const legacy = (suite: string) => suite.startsWith('TLSv1|');
  const want = [...refs]
    .filter(
      ([, r]) => r.counts[Count.Failed]! > 0 || r.counts[Count.Plaintext]! > 0 || [...r.suites.keys()].some(legacy),
    )
    .map(([ip]) => ip);
  assert.deepEqual(
    [...t.listed(legacy)].map((p) => p.peer.ip),
    want,
  );
}

describe('PeerTable', () => {
  it('answers what one object per peer would, through growth and merges', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), fc.nat(), (ops, cut) => {
        const whole = new PeerTable();
        const refs = new Map<string, Ref>();
        for (const op of ops) apply(whole, refs, op);
        same(whole, refs);
        // The same operations in two tables, merged, equal the whole.
        const at = cut % (ops.length + 1);
        const a = new PeerTable();
        const b = new PeerTable();
        const ignored = new Map<string, Ref>();
        for (const op of ops.slice(0, at)) apply(a, ignored, op);
        for (const op of ops.slice(at)) apply(b, ignored, op);
        a.merge(
          b,
          (row) => row,
          () => {},
        );
        same(a, refs);
      }),
      { numRuns: 200 },
    );
  });

  it('holds a hundred thousand IPv4 peers and finds each one', () => {
    const t = new PeerTable();
    for (let n = 0; n < 100_000; n++) {
      const i = t.slot({ host: null, ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` });
      assert.equal(i, n);
      t.count(i, Count.Sessions, n);
    }
    assert.equal(t.size, 100_000);
    assert.equal(t.get('10.1.134.159')?.sessions, 99_999);
    assert.equal(t.get('10.0.0.0')?.sessions, 0);
    assert.equal(t.get('10.2.0.0'), undefined);
  });

  it('counts a peer once per spread row', () => {
    const t = new PeerTable();
    const i = t.slot({ host: null, ip: '192.0.2.1' });
    assert.equal(t.joinRow(i, 3), true);
    assert.equal(t.joinRow(i, 3), false);
    assert.equal(t.joinRow(i, 0), true);
    assert.equal(t.joinRow(i, 3), false);
    assert.equal(t.joinRow(i, 0), false);
    assert.equal(t.joinRow(i, 7), true);
  });

  it('finds a peer whose address or name holds a lone surrogate (journald JSON) by the same string', () => {
    const t = new PeerTable();
    const ip = 'fe80::1%\ud800-an-odd-interface-name';
    const host = 'mx\udfff.with-a-long-odd-name.example';
    t.slot({ host, ip });
    assert.equal(t.find(ip), 0);
    assert.equal(t.slot({ host: null, ip }), 0);
    assert.deepEqual(t.get(ip)?.peer, { host, ip });
  });

  it('keeps a name learnt later, and whether the MTA logs names', () => {
    const t = new PeerTable();
    t.slot({ host: null, ip: '192.0.2.1', nameLogged: false });
    assert.deepEqual(t.get('192.0.2.1')?.peer, { host: null, ip: '192.0.2.1', nameLogged: false });
    t.slot({ host: 'mx.example', ip: '192.0.2.1' });
    assert.deepEqual(t.get('192.0.2.1')?.peer, { host: 'mx.example', ip: '192.0.2.1' });
    t.slot({ host: 'other.example', ip: '192.0.2.1' });
    assert.equal(t.get('192.0.2.1')?.peer.host, 'mx.example');
  });
});
