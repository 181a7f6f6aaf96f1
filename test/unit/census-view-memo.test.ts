// The census view memoises what a session's strings map to and shares the collections most peers need only
// one value in (census-view.ts, hot path). Neither may show: counters are exactly sessionMetrics' keys, and
// no view, merge or later session ever sees a shared collection change.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { addSession, emptyView, mergeViews } from '../../src/aggregate/census-view.js';
import { metricKey, sanitizeLabel, sessionMetrics } from '../../src/aggregate/session-metrics.js';
import { rateHandshake } from '../../src/ciphers/lookup.js';
import { isMailboxService, type Session } from '../../src/model/types.js';

const sessionArb: fc.Arbitrary<Session> = fc
  .record({
    mta: fc.constantFrom('postfix', 'exim', 'dovecot'),
    service: fc.constantFrom('smtpd', 'submission/smtpd', 'smtp', 'imap', 'x\u0007y'),
    direction: fc.constantFrom('inbound' as const, 'outbound' as const),
    ip: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1'),
    host: fc.option(fc.constantFrom('a.example', 'b.example'), { nil: null }),
    startMs: fc.option(fc.integer({ min: 1.7e12, max: 1.8e12 }), { nil: null }),
    outcome: fc.constantFrom('tls' as const, 'failed' as const, 'plaintext' as const, 'no-command' as const),
    protocol: fc.constantFrom('TLSv1' as const, 'TLSv1.2' as const, 'TLSv1.3' as const, 'unknown' as const),
    cipher: fc.constantFrom('ECDHE-RSA-AES256-GCM-SHA384', 'TLS_AES_256_GCM_SHA384', 'RC4-SHA', 'nonsense'),
    iana: fc.option(fc.constantFrom('TLS_RSA_WITH_RC4_128_SHA', 'TLS_AES_128_GCM_SHA256'), { nil: undefined }),
    reason: fc.constantFrom('no-shared-cipher' as const, 'unsupported-protocol' as const, 'other' as const),
    messages: fc.nat(3),
  })
  .map((r) => ({
    mta: r.mta,
    service: r.service,
    direction: r.direction,
    peer: { host: r.host, ip: r.ip },
    startMs: r.startMs,
    endMs: r.startMs,
    outcome: r.outcome,
    handshake:
      r.outcome === 'tls'
        ? { protocol: r.protocol, cipher: r.cipher, bits: null, trust: null, ...(r.iana ? { iana: r.iana } : {}) }
        : null,
    failure: r.outcome === 'failed' ? { reason: r.reason, detail: `detail ${r.reason}` } : null,
    messages: r.messages,
  }));

function directCounters(sessions: readonly Session[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of sessions) {
    const m = sessionMetrics(s);
    if (!m) continue;
    const k = metricKey({ family: m.family, values: m.values.map(sanitizeLabel) });
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

describe('census view memos', () => {
  it('counts each session under exactly the key sessionMetrics gives it', () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 40 }), (sessions) => {
        const v = emptyView();
        for (const s of sessions) addSession(v, s);
        assert.deepEqual([...v.counters].sort(), [...directCounters(sessions)].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('counts each peer once in every spread row it had a handshake in, across merges', () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 40 }), fc.nat(), (sessions, cut) => {
        const v = emptyView();
        const at = cut % (sessions.length + 1);
        const b = emptyView();
        for (const s of sessions.slice(0, at)) addSession(v, s);
        for (const s of sessions.slice(at)) addSession(b, s);
        mergeViews(v, b);
        for (const s of sessions) addSession(v, s);
        const want = new Map<string, Set<string>>();
        for (const s of sessions) {
          if (!s.handshake || !s.peer) continue;
          const h = s.handshake;
          const rated = rateHandshake(h.protocol, typeof h.iana === 'string' ? h.iana : h.cipher);
          const section = isMailboxService(s.service) ? 'mailbox' : s.direction;
          const k = `${section} ${h.protocol}|${rated.iana ?? h.cipher}`;
          if (!want.has(k)) want.set(k, new Set());
          want.get(k)!.add(s.peer.ip);
        }
        const got = new Map<string, number>();
        for (const [section, dir] of [
          ['inbound', v.inbound],
          ['outbound', v.outbound],
          ['mailbox', v.mailbox],
        ] as const) {
          for (const [key, row] of dir.spread) if (row.peers > 0) got.set(`${section} ${key}`, row.peers);
        }
        assert.deepEqual([...got].sort(), [...want].map(([k, set]) => [k, set.size]).sort());
      }),
      { numRuns: 300 },
    );
  });

  it('never lets one peer, view or merge change another through a shared collection', () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 30 }), fc.array(sessionArb, { maxLength: 30 }), (a, b) => {
        const va = emptyView();
        for (const s of a) addSession(va, s);
        const vb = emptyView();
        for (const s of b) addSession(vb, s);
        mergeViews(va, vb);
        for (const s of b) addSession(va, s);
        // A fresh one-session view still has one MTA, one service, at most one suite and reason.
        for (const s of [...a, ...b]) {
          const fresh = emptyView();
          addSession(fresh, s);
          for (const dir of [fresh.inbound, fresh.outbound, fresh.mailbox]) {
            for (const p of dir.peers.values()) {
              assert.deepEqual([...p.mtas], [s.mta]);
              assert.deepEqual([...p.services], [s.service]);
              assert.ok(p.suites.size <= 1 && p.reasons.size <= 1);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
