// Properties (DESIGN.md §6): the census is total (no input makes it throw or lose a line), and counting two
// halves apart then merging equals counting the whole — the basis for parallel and incremental counting.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { addSession, type CensusView, emptyView, mergeViews } from '../../src/aggregate/census-view.js';
import { PeerTable } from '../../src/aggregate/peer-table.js';
import { CensusEngine } from '../../src/census/engine.js';
import { DIALECTS } from '../../src/dialects/registry.js';
import { parseZone } from '../../src/envelope/clock.js';
import type { Session } from '../../src/model/types.js';
import { fixturePath } from '../helpers/paths.js';

/** A view as plain sorted data, so that two views can be compared with deepEqual. */
function canonical(v: CensusView): unknown {
  const plain = (x: unknown): unknown => {
    if (x instanceof PeerTable) return plain(new Map(x));
    if (x instanceof Map)
      return [...x.entries()].map(([k, val]) => [k, plain(val)]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
    if (x instanceof Set) return [...x].sort();
    if (Array.isArray(x)) return x.map(plain);
    if (x !== null && typeof x === 'object')
      return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, plain(val)]));
    return x;
  };
  return plain(v);
}

const peerArb = fc.record({
  host: fc.option(fc.constantFrom('a.example', 'b.example', 'mx.example'), { nil: null }),
  ip: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1', '198.51.100.7'),
});

const sessionArb: fc.Arbitrary<Session> = fc
  .record({
    mta: fc.constantFrom('postfix', 'exim'),
    service: fc.constantFrom('smtpd', 'submission/smtpd', 'smtp', 'imap'),
    direction: fc.constantFrom('inbound' as const, 'outbound' as const),
    peer: fc.option(peerArb, { nil: null }),
    startMs: fc.option(fc.integer({ min: 1.7e12, max: 1.8e12 }), { nil: null }),
    outcome: fc.constantFrom(
      'tls' as const,
      'failed' as const,
      'plaintext' as const,
      'no-command' as const,
      'incomplete' as const,
    ),
    protocol: fc.constantFrom(
      'SSLv3' as const,
      'TLSv1' as const,
      'TLSv1.2' as const,
      'TLSv1.3' as const,
      'unknown' as const,
    ),
    cipher: fc.constantFrom(
      'ECDHE-RSA-AES256-GCM-SHA384',
      'TLS_AES_256_GCM_SHA384',
      'DHE-RSA-AES256-SHA',
      'RC4-SHA',
      'nonsense',
    ),
    reason: fc.constantFrom('no-shared-cipher' as const, 'unsupported-protocol' as const, 'other' as const),
    trust: fc.constantFrom(null, 'Verified', 'Trusted', 'Untrusted', 'Anonymous', 'CV=no'),
    messages: fc.nat(5),
  })
  .map((r) => ({
    mta: r.mta,
    service: r.service,
    direction: r.direction,
    peer: r.peer,
    startMs: r.startMs,
    endMs: r.startMs,
    outcome: r.outcome,
    handshake: r.outcome === 'tls' ? { protocol: r.protocol, cipher: r.cipher, bits: null, trust: r.trust } : null,
    failure: r.outcome === 'failed' ? { reason: r.reason, detail: `detail ${r.reason}` } : null,
    messages: r.messages,
  }));

describe('properties', () => {
  it('aggregate(a ++ b) equals merge(aggregate(a), aggregate(b))', () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 60 }), fc.nat(), (sessions, cut) => {
        const at = cut % (sessions.length + 1);
        const whole = emptyView();
        for (const s of sessions) addSession(whole, s);
        const a = emptyView();
        const b = emptyView();
        for (const s of sessions.slice(0, at)) addSession(a, s);
        for (const s of sessions.slice(at)) addSession(b, s);
        assert.deepEqual(canonical(mergeViews(a, b)), canonical(whole));
      }),
      { numRuns: 500 },
    );
  });

  it('the engine is total: any bytes, every line one outcome, no throw', () => {
    const real = fs.readFileSync(fixturePath('dialects/postfix.log'), 'utf8').split('\n');
    const line = fc.oneof(
      fc.constantFrom(...real),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('latin1').replace(/\n/g, ' ')),
      fc.tuple(fc.constantFrom(...real), fc.nat(), fc.string({ maxLength: 8 })).map(([s, i, ins]) => {
        const at = i % (s.length + 1);
        return s.slice(0, at) + ins + s.slice(at + ins.length);
      }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 80 }), (lines) => {
        const engine = new CensusEngine({ dialects: DIALECTS, zone: parseZone('UTC'), year: 2026, filter: () => true });
        engine.beginSource('fuzz', 0);
        for (const l of lines) {
          const buf = Buffer.from(l.replace(/\n/g, ' '));
          engine.line(buf, 0, buf.length);
        }
        const { coverage: c } = engine.finish();
        assert.equal(c.lines, lines.length);
        assert.equal(c.events + c.unrecognized + c.malformed + c.foreign, c.lines);
      }),
      { numRuns: 300 },
    );
  });
});
