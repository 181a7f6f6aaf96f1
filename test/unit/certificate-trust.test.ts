// What a handshake showed of the peer's certificate: each MTA's word, and the per-peer counts a census keeps of
// them from real log lines (what what-if's certificate checks judge by).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { CERTIFICATE_TRUSTS, certificateIndexOf } from '../../src/dialects/certificate-trust.js';
import type { CertificateTrust } from '../../src/model/types.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';

const kindOf = (trust: string | null) => CERTIFICATE_TRUSTS[certificateIndexOf(trust)];

describe('certificate trust', () => {
  it("maps Postfix's trust words, Exim's CV= and Sendmail's verify= to one vocabulary", () => {
    const want: [string | null, CertificateTrust][] = [
      ['Verified', 'verified'],
      ['Trusted', 'trusted'],
      ['Untrusted', 'untrusted'],
      ['Anonymous', 'none'],
      [null, 'unknown'],
      ['CV=yes', 'verified'],
      ['CV=dane', 'verified'],
      ['CV=no', 'untrusted'],
      ['verify=OK', 'trusted'],
      ['verify=FAIL', 'untrusted'],
      ['verify=DANE_FAIL', 'untrusted'],
      ['verify=NO', 'none'],
      // Not asked for a certificate, or nothing to say: no verdict.
      ['verify=NOT', 'unknown'],
      ['verify=NONE', 'unknown'],
      ['verify=DANE_TEMP', 'unknown'],
      ['verified', 'unknown'],
    ];
    for (const [trust, kind] of want) assert.equal(kindOf(trust), kind, String(trust));
  });

  it('counts every handshake of a peer once, by what it showed, in the fixtures of real lines', async () => {
    const totals = new Map<string, Partial<Record<CertificateTrust, number>>>();
    for (const mta of ['postfix', 'exim', 'sendmail']) {
      const { view } = await census(resolveInputs([fixturePath('dialects', `${mta}.log`)]), {
        year: 2026,
        timezone: 'UTC',
        mta: [mta],
      });
      const sum: Partial<Record<CertificateTrust, number>> = {};
      for (const dir of [view.inbound, view.outbound, view.mailbox]) {
        for (const p of dir.peers.values()) {
          let n = 0;
          for (const [kind, count] of p.certificates) {
            sum[kind] = (sum[kind] ?? 0) + count;
            n += count;
          }
          assert.equal(n, p.tls, `${mta} ${p.peer.ip}: certificate counts add up to its TLS sessions`);
        }
      }
      totals.set(mta, sum);
    }
    // Each dialect's words arrive: Postfix's four, Exim's CV=yes/dane/no, Sendmail's FAIL/NO (its one verify=OK
    // line is a client's whose relay= names no address: no peer).
    const seen = (mta: string) =>
      Object.keys(totals.get(mta)!)
        .filter((k) => k !== 'unknown')
        .sort();
    assert.deepEqual(seen('postfix'), ['none', 'trusted', 'untrusted', 'verified']);
    assert.deepEqual(seen('exim'), ['untrusted', 'verified']);
    assert.deepEqual(seen('sendmail'), ['none', 'untrusted']);
  });
});
