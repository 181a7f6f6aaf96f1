// The what-if verdict rules (src/policy/whatif.ts), one by one, on views built from sessions, with policies from
// flags and from main.cf fixtures (test/fixtures/main-cf/whatif-*.cf).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { addSession, type CensusView, emptyView } from '../../src/aggregate/census-view.js';
import { CensusError } from '../../src/model/errors.js';
import type { Direction, FailureReason, Protocol, Session } from '../../src/model/types.js';
import { parseMainCf } from '../../src/policy/main-cf.js';
import {
  evaluateWhatIf,
  type PeerVerdict,
  summarizeCommonPolicies,
  type WhatIfResult,
} from '../../src/policy/whatif.js';
import {
  isMandatoryService,
  type LibraryModel,
  policyFromFlags,
  policyFromMainCf,
  type WhatIfPolicy,
} from '../../src/policy/whatif-policy.js';
import { fixturePath } from '../helpers/paths.js';

const T0 = Date.UTC(2026, 10, 20, 10);

interface S {
  ip: string;
  host?: string | null;
  direction?: Direction;
  service?: string;
  protocol?: Protocol;
  cipher?: string;
  outcome?: Session['outcome'];
  reason?: FailureReason;
  messages?: number;
  n?: number;
  /** The trust word as logged (Postfix's, Exim's CV=, Sendmail's verify=). */
  trust?: string | null;
  /** Plaintext right after a failed handshake of the peer (the fallback detector's mark). */
  fallback?: boolean;
}

function view(...specs: S[]): CensusView {
  const v = emptyView();
  let t = T0;
  for (const s of specs) {
    for (let i = 0; i < (s.n ?? 1); i++) {
      const outcome = s.outcome ?? (s.protocol ? 'tls' : 'plaintext');
      t += 1000;
      addSession(v, {
        mta: 'postfix',
        service: s.service ?? (s.direction === 'outbound' ? 'smtp' : 'smtpd'),
        direction: s.direction ?? 'inbound',
        peer: { host: s.host === undefined ? `h${s.ip}.example` : s.host, ip: s.ip },
        startMs: t,
        endMs: null,
        outcome,
        handshake:
          outcome === 'tls'
            ? { protocol: s.protocol ?? 'unknown', cipher: s.cipher ?? '', bits: null, trust: s.trust ?? null }
            : null,
        failure: outcome === 'failed' ? { reason: s.reason ?? 'no-shared-cipher', detail: 'x' } : null,
        messages: s.messages ?? (outcome === 'tls' || outcome === 'plaintext' ? 1 : 0),
        ...(s.fallback ? { fallback: true } : {}),
      });
    }
  }
  return v;
}

/** An outbound TLS 1.3 session to `ip` whose handshake logged `trust`. */
function out(ip: string, trust: string | null, extra: Partial<S> = {}): S {
  return { ...MODERN_OUT, ip, trust, ...extra };
}

/** A TLS 1.3 client elsewhere: evidence that this side negotiated TLS 1.3. */
const MODERN_IN: S = { ip: '198.51.100.1', protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };
const MODERN_OUT: S = { ...MODERN_IN, ip: '198.51.100.2', direction: 'outbound' };

function flags(extra: Partial<Parameters<typeof policyFromFlags>[0]>, library: LibraryModel = 'current'): WhatIfPolicy {
  return policyFromFlags({ library, sections: ['inbound', 'outbound', 'mailbox'], ...extra });
}

function mainCf(file: string, library: LibraryModel = 'current'): WhatIfPolicy {
  const cf = parseMainCf(fs.readFileSync(fixturePath('main-cf', file), 'utf8'), { source: file });
  return policyFromMainCf(cf, { library });
}

function peer(r: WhatIfResult, ip: string): PeerVerdict {
  const p = r.peers.find((x) => x.peer.ip === ip);
  assert.ok(p, `peer ${ip} judged`);
  return p;
}

function verdictOf(r: WhatIfResult, ip: string): string {
  const p = peer(r, ip);
  return `${p.verdict}/${p.certainty}`;
}

const MIN12 = flags({ minProtocol: 'TLSv1.2' });

describe('whatif: verdict rules', () => {
  it('unaffected, certain: every handshake it made stays allowed', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.1', protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' }),
      MIN12,
    );
    assert.equal(verdictOf(r, '192.0.2.1'), 'unaffected/certain');
    assert.match(peer(r, '192.0.2.1').reason, /stays allowed \(TLSv1\.2 ECDHE-RSA-AES128-GCM-SHA256 ×1\)/);
  });

  it('loses TLS, certain: only TLSv1 while this server negotiated TLSv1.3 with others (the client’s highest)', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.2', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA', n: 3 }),
      MIN12,
    );
    const p = peer(r, '192.0.2.2');
    assert.equal(`${p.verdict}/${p.certainty}`, 'loses-tls/certain');
    assert.match(p.reason, /TLSv1 is the highest version this client offers/);
    assert.match(p.reason, /send in plaintext, or give up/);
    assert.equal(p.affectedSessions, 3);
  });

  it('loses TLS, likely: without evidence that this side offered more, the peer may support more', () => {
    const r = evaluateWhatIf(view({ ip: '192.0.2.3', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' }), MIN12);
    assert.equal(verdictOf(r, '192.0.2.3'), 'loses-tls/likely');
    assert.match(peer(r, '192.0.2.3').reason, /this side may have been the limit/);
  });

  it('outbound: a server seen only on TLSv1 while our client negotiated TLSv1.3 elsewhere; Postfix retries in plaintext', () => {
    const r = evaluateWhatIf(
      view(MODERN_OUT, { ip: '192.0.2.4', direction: 'outbound', protocol: 'TLSv1', cipher: 'AES128-SHA' }),
      MIN12,
    );
    const p = peer(r, '192.0.2.4');
    assert.equal(`${p.direction} ${p.verdict}/${p.certainty}`, 'outbound loses-tls/certain');
    assert.match(p.reason, /highest version this server supports/);
    assert.match(p.reason, /minimal_backoff_time/);
  });

  it('loses TLS, likely: its only suite is removed but it may share another allowed suite', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.5', protocol: 'TLSv1.2', cipher: 'RC4-SHA', n: 2 }),
      flags({ ciphers: 'HIGH:!aNULL' }),
    );
    assert.equal(verdictOf(r, '192.0.2.5'), 'loses-tls/likely');
    assert.match(
      peer(r, '192.0.2.5').reason,
      /its only suite TLSv1\.2 RC4-SHA ×2 is not allowed.*may still share another allowed suite/,
    );
  });

  it('loses TLS, certain: its suite is removed and no allowed suite works with its version', () => {
    // HIGH:!SHA1 keeps only TLS 1.2 suites (PSK/SRP suites aside, which mail servers never have).
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.6', protocol: 'TLSv1', cipher: 'AES128-SHA' }),
      flags({ ciphers: 'HIGH:!SHA1' }),
    );
    assert.equal(verdictOf(r, '192.0.2.6'), 'loses-tls/certain');
    assert.match(peer(r, '192.0.2.6').reason, /no allowed suite works with TLSv1/);
  });

  it('downgraded, likely: keeps TLS with a version it was seen using', () => {
    const r = evaluateWhatIf(
      view(
        { ip: '192.0.2.7', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES128-SHA' },
        { ip: '192.0.2.7', protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384', n: 2 },
      ),
      MIN12,
    );
    const p = peer(r, '192.0.2.7');
    assert.equal(`${p.verdict}/${p.certainty}`, 'downgraded/likely');
    assert.equal(p.affectedSessions, 1);
    assert.match(p.reason, /keeps TLS with TLSv1\.2 ECDHE-RSA-AES256-GCM-SHA384 ×2, which it was seen using/);
  });

  it('downgraded, likely: a newer version is excluded but an older one stays allowed (not seen)', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.8', protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' }),
      flags({ excludeProtocols: 'TLSv1.2' }),
    );
    assert.equal(verdictOf(r, '192.0.2.8'), 'downgraded/likely');
    assert.match(peer(r, '192.0.2.8').reason, /probably negotiate TLSv1\.1 instead/);
  });

  it('refused, certain: a submission client (TLS mandatory) on TLSv1 under a TLSv1.2 minimum', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, {
        ip: '192.0.2.9',
        service: 'submission/smtpd',
        protocol: 'TLSv1',
        cipher: 'ECDHE-RSA-AES256-SHA',
      }),
      MIN12,
    );
    const p = peer(r, '192.0.2.9');
    assert.equal(`${p.verdict}/${p.certainty}`, 'refused/certain');
    assert.equal(p.mandatory, true);
    assert.match(p.reason, /TLS is mandatory on submission\/smtpd: it could no longer send at all/);
  });

  it('a peer on port 25 and submission gets the worse verdict, and the reason says both', () => {
    const r = evaluateWhatIf(
      view(
        MODERN_IN,
        { ip: '192.0.2.10', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
        { ip: '192.0.2.10', service: 'submission/smtpd', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      ),
      MIN12,
    );
    const p = peer(r, '192.0.2.10');
    assert.equal(p.verdict, 'refused');
    assert.match(p.reason, /there it is loses-tls/);
  });

  it('--mandatory-services decides which services require TLS (Postfix instance names match)', () => {
    assert.equal(isMandatoryService('submission/smtpd', ['submission']), true);
    assert.equal(isMandatoryService('postfix-out/smtps/smtpd', ['smtps']), true);
    assert.equal(isMandatoryService('smtpd', ['submission']), false);
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.11', service: 'relay/smtpd', protocol: 'TLSv1', cipher: 'AES128-SHA' }),
      flags({ minProtocol: 'TLSv1.2', mandatoryServices: ['relay'] }),
    );
    assert.equal(peer(r, '192.0.2.11').verdict, 'refused');
  });

  it('IMAP/POP3 count as mandatory TLS: a mailbox client that loses TLS is refused', () => {
    const r = evaluateWhatIf(
      view(
        { ...MODERN_IN, service: 'imap' },
        { ip: '192.0.2.12', service: 'imap', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      ),
      MIN12,
    );
    const p = peer(r, '192.0.2.12');
    assert.equal(`${p.section} ${p.direction} ${p.verdict}/${p.certainty}`, 'mailbox inbound refused/certain');
    assert.match(p.reason, /could no longer log in/);
    assert.ok(r.totals.mailbox);
  });

  it('plaintext-only peers are unaffected by a protocol or cipher policy, and it says so', () => {
    const r = evaluateWhatIf(view(MODERN_IN, { ip: '192.0.2.13', n: 2 }), MIN12);
    assert.equal(verdictOf(r, '192.0.2.13'), 'unaffected/certain');
    assert.match(peer(r, '192.0.2.13').reason, /never used TLS \(2 plaintext sessions\)/);
  });

  it('peers whose handshakes all fail already have no TLS: unaffected, and it says so', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, { ip: '192.0.2.14', outcome: 'failed', reason: 'no-shared-cipher' }),
      MIN12,
    );
    assert.equal(verdictOf(r, '192.0.2.14'), 'unaffected/certain');
    assert.match(peer(r, '192.0.2.14').reason, /already fails its TLS handshakes \(1: no-shared-cipher 1\)/);
  });

  it('peers that sent no command (scanners) are unaffected', () => {
    const r = evaluateWhatIf(view({ ip: '192.0.2.15', outcome: 'no-command' }), MIN12);
    assert.equal(verdictOf(r, '192.0.2.15'), 'unaffected/certain');
  });

  it('undetermined: the log does not say which protocol or suite was used', () => {
    const r = evaluateWhatIf(view({ ip: '192.0.2.16', protocol: 'unknown', cipher: '' }), MIN12);
    assert.equal(peer(r, '192.0.2.16').verdict, 'undetermined');
  });

  it('infers the version the log left out from a suite that exists only in TLS 1.2', () => {
    // Sendmail logs `TLSv1/SSLv3` (unknown) with the suite: an AES-GCM suite means TLS 1.2.
    const r = evaluateWhatIf(
      view({ ip: '192.0.2.17', protocol: 'unknown', cipher: 'ECDHE-RSA-AES256-GCM-SHA384' }),
      MIN12,
    );
    assert.equal(verdictOf(r, '192.0.2.17'), 'unaffected/certain');
  });

  it('sums peers, sessions and messages per section and verdict', () => {
    const r = evaluateWhatIf(
      view(
        MODERN_IN,
        { ip: '192.0.2.18', protocol: 'TLSv1', cipher: 'AES128-SHA', n: 2, messages: 3 },
        { ip: '192.0.2.19', protocol: 'TLSv1', cipher: 'AES128-SHA' },
      ),
      MIN12,
    );
    assert.deepEqual(r.totals.inbound?.['loses-tls'], { peers: 2, sessions: 3, messages: 7, affectedSessions: 3 });
    assert.deepEqual(r.totals.inbound?.unaffected, { peers: 1, sessions: 1, messages: 1, affectedSessions: 0 });
    assert.equal(r.schema, 'tlscensus/whatif@1');
  });
});

describe('whatif: policies from flags', () => {
  it('explains bad flags as OpenSSL would, as usage errors', () => {
    assert.throws(
      () => flags({ minProtocol: 'TLS1.4' }),
      (e: unknown) => e instanceof CensusError && /unknown protocol "TLS1\.4"/.test(e.message) && e.exitCode === 2,
    );
    assert.throws(
      () => flags({ ciphers: 'NOTHING-AT-ALL' }),
      (e: unknown) =>
        e instanceof CensusError &&
        /OpenSSL rejects it: no cipher match/.test(e.message) &&
        /Error in cipher list/.test(e.hint ?? ''),
    );
    assert.throws(() => flags({ ciphers: 'HIGH:%x' }), /invalid cipher string/);
    assert.throws(() => flags({ minProtocol: 'TLSv1.3', excludeProtocols: 'TLSv1.3' }), /no protocol version/);
  });

  it('an OpenSSL client offers only the lowest contiguous block: !TLSv1.1 on the client keeps it on TLSv1', () => {
    const policy = flags({ excludeProtocols: 'SSLv3,TLSv1.1' });
    assert.deepEqual([...(policy.outbound?.opportunistic.protocols ?? [])], ['TLSv1']);
    assert.match(policy.outbound?.notes.join(' ') ?? '', /lowest contiguous block/);
    assert.deepEqual([...(policy.inbound?.opportunistic.protocols ?? [])], ['TLSv1', 'TLSv1.2', 'TLSv1.3']);
    // The TLS 1.3 server would have to accept TLS 1.0 now: many still do, OpenSSL 3 servers cannot.
    const r = evaluateWhatIf(view(MODERN_OUT), policy);
    assert.equal(verdictOf(r, MODERN_OUT.ip), 'downgraded/likely');
    assert.match(peer(r, MODERN_OUT.ip).reason, /probably negotiate TLSv1 instead/);
  });

  it('--openssl 3.0: Postfix runs OpenSSL at level 0, so TLS 1.0 keeps working in and out (review)', () => {
    // tls_server.c/tls_client.c: SSL_CTX_set_security_level(ctx, 0), whatever Debian's default (2) says.
    const TLS1 = [
      { ip: '192.0.2.20', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      { ip: '192.0.2.21', direction: 'outbound', protocol: 'TLSv1', cipher: 'AES128-SHA' },
      { ip: '192.0.2.22', direction: 'outbound', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      { ip: '192.0.2.23', protocol: 'TLSv1.2', cipher: 'RC4-SHA' },
      { ip: '192.0.2.24', service: 'imap', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
    ] as const satisfies readonly S[];
    const v = view(MODERN_IN, MODERN_OUT, ...TLS1);
    const policy = flags({ minProtocol: 'TLSv1' }, '3.0');
    assert.equal(policy.inbound?.opportunistic.securityLevel, 0);
    assert.match(policy.inbound?.opportunistic.summary ?? '', /security level 0: as Postfix sets it/);
    const r = evaluateWhatIf(v, policy);
    assert.equal(verdictOf(r, '192.0.2.20'), 'unaffected/certain');
    assert.equal(verdictOf(r, '192.0.2.21'), 'unaffected/certain');
    assert.equal(verdictOf(r, '192.0.2.22'), 'unaffected/certain');
    // OpenSSL 3.0 on Debian has no RC4 at all.
    assert.equal(peer(r, '192.0.2.23').verdict, 'loses-tls');
    // Dovecot leaves the library's default, 2: a TLS 1.0 server cannot sign.
    assert.equal(policy.mailbox?.opportunistic.securityLevel, 2);
    assert.equal(peer(r, '192.0.2.24').verdict, 'refused');
    assert.deepEqual([...(policy.mailbox?.opportunistic.protocols ?? [])], ['TLSv1.2', 'TLSv1.3']);
  });

  it('--openssl 3.0 with @SECLEVEL=2: a server cannot complete TLS 1.0, a client can with RSA key transport', () => {
    const policy = flags({ minProtocol: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=2' }, '3.0');
    const r = evaluateWhatIf(
      view(
        MODERN_IN,
        MODERN_OUT,
        { ip: '192.0.2.20', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
        { ip: '192.0.2.21', direction: 'outbound', protocol: 'TLSv1', cipher: 'AES128-SHA' },
        { ip: '192.0.2.22', direction: 'outbound', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      ),
      policy,
    );
    assert.equal(verdictOf(r, '192.0.2.20'), 'loses-tls/certain');
    assert.equal(verdictOf(r, '192.0.2.21'), 'unaffected/certain');
    assert.equal(peer(r, '192.0.2.22').verdict, 'loses-tls');
    assert.match(peer(r, '192.0.2.22').reason, /only with RSA key transport or PSK/);
  });

  it('--openssl 3.0 with a main.cf: level 0 unless @SECLEVEL or an authenticating level (review)', () => {
    const v = view(
      MODERN_IN,
      MODERN_OUT,
      { ip: '192.0.2.20', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      { ip: '192.0.2.22', direction: 'outbound', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
    );
    const judge = (text: string) =>
      evaluateWhatIf(v, policyFromMainCf(parseMainCf(text, { source: 'inline' }), { library: '3.0' }));
    const may = judge('smtpd_tls_security_level = may\nsmtp_tls_security_level = may\nsmtpd_tls_protocols = >=TLSv1\n');
    assert.equal(verdictOf(may, '192.0.2.20'), 'unaffected/certain');
    assert.equal(verdictOf(may, '192.0.2.22'), 'unaffected/certain');
    assert.match(may.policy.inbound?.opportunistic.summary ?? '', /OpenSSL 3\.0 security level 0: as Postfix sets it/);
    // smtp_tls_security_level = verify: level 1, at which OpenSSL 3.0 cannot verify a TLS 1.0 ECDHE signature.
    const verify = judge('smtpd_tls_security_level = may\nsmtp_tls_security_level = verify\n');
    assert.equal(peer(verify, '192.0.2.22').verdict, 'refused');
    assert.match(peer(verify, '192.0.2.22').reason, /at security level 1/);
  });
});

describe('whatif: @SECLEVEL in the policy applies in the current model too (review)', () => {
  const v = view(
    MODERN_IN,
    { ip: '192.0.2.60', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
    { ip: '192.0.2.61', protocol: 'TLSv1.2', cipher: 'AES128-SHA' },
    { ip: '192.0.2.62', protocol: 'TLSv1.2', cipher: 'RC4-SHA' },
    { ip: '192.0.2.63', protocol: 'TLSv1.1', cipher: 'ECDHE-RSA-AES128-SHA' },
  );

  it("--ciphers 'ALL:@SECLEVEL=3': no TLS 1.0, no RSA key transport, no RC4 (ssl_security_default_callback)", () => {
    const policy = flags({ ciphers: 'ALL:@SECLEVEL=3' });
    assert.equal(policy.inbound?.opportunistic.securityLevel, 3);
    const r = evaluateWhatIf(v, policy);
    assert.equal(verdictOf(r, '192.0.2.60'), 'loses-tls/certain');
    assert.equal(peer(r, '192.0.2.61').verdict, 'loses-tls');
    assert.match(peer(r, '192.0.2.61').reason, /OpenSSL refuses AES128-SHA at security level 3/);
    assert.equal(peer(r, '192.0.2.62').verdict, 'loses-tls');
    assert.equal(verdictOf(r, '192.0.2.63'), 'unaffected/certain');
  });

  it('a main.cf cipher list with @SECLEVEL=2: no RC4; TLS 1.0 only as OpenSSL 1.1 allows it, with a note on 3.0', () => {
    const cf = parseMainCf(
      'smtpd_tls_security_level = may\nsmtpd_tls_protocols = >=TLSv1\ntls_medium_cipherlist = aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=2\n',
    );
    const policy = policyFromMainCf(cf, { library: 'current', sections: ['inbound'] });
    assert.equal(policy.inbound?.opportunistic.securityLevel, 2);
    assert.match(policy.inbound?.notes.join(' ') ?? '', /OpenSSL 3\.0 also refuses TLS 1\.0\/1\.1 as a server/);
    const r = evaluateWhatIf(v, policy);
    assert.equal(peer(r, '192.0.2.62').verdict, 'loses-tls');
    assert.match(peer(r, '192.0.2.62').reason, /refuses RC4-SHA at security level 2/);
    assert.equal(verdictOf(r, '192.0.2.60'), 'unaffected/certain');
    // Under the 3.0 model, what real Postfix on Debian 12 did with this main.cf: TLSv1 and TLSv1.1 refused.
    const r30 = evaluateWhatIf(v, policyFromMainCf(cf, { library: '3.0', sections: ['inbound'] }));
    assert.equal(peer(r30, '192.0.2.60').verdict, 'loses-tls');
    assert.equal(peer(r30, '192.0.2.63').verdict, 'loses-tls');
    assert.equal(verdictOf(r30, '192.0.2.61'), 'unaffected/certain');
  });

  it("without @SECLEVEL the current model sets no level: Postfix's 0 restricts nothing", () => {
    const policy = mainCf('whatif-golden.cf');
    assert.equal(policy.inbound?.opportunistic.securityLevel, null);
    assert.equal(flags({ ciphers: 'ALL' }).inbound?.opportunistic.securityLevel, null);
  });
});

describe('whatif: policies from main.cf', () => {
  it('an invalid smtpd_tls_protocols disables STARTTLS: every TLS client loses TLS, certainly', () => {
    const r = evaluateWhatIf(
      view(MODERN_IN, {
        ip: '192.0.2.30',
        service: 'submission/smtpd',
        protocol: 'TLSv1.2',
        cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
      }),
      mainCf('seed-main.cf'),
    );
    const p = peer(r, MODERN_IN.ip);
    assert.equal(`${p.verdict}/${p.certainty}`, 'loses-tls/certain');
    assert.match(p.reason, /is not a valid protocol list: smtpd disables TLS/);
    // Submission uses smtpd_tls_mandatory_protocols ("!TLSv1, !SSLv2"), which is valid.
    assert.equal(verdictOf(r, '192.0.2.30'), 'unaffected/certain');
  });

  it('a main.cf without a security level is taken as an excerpt and evaluated as "may", with a note', () => {
    const policy = mainCf('seed-main.cf');
    assert.equal(policy.inbound?.level, 'may');
    assert.match(policy.inbound?.notes.join(' ') ?? '', /not set .* evaluated as "may"/);
    assert.match(policy.notes.join(' '), /IMAP\/POP3 sessions are not evaluated/);
    assert.equal(policy.mailbox, null);
  });

  it('smtpd_tls_wrappermode = YES is a yes (Postfix booleans ignore case): every smtpd service expects TLS (review)', () => {
    const cf = parseMainCf('smtpd_tls_security_level = may\nsmtpd_tls_wrappermode = YES\n');
    const policy = policyFromMainCf(cf, { library: 'current', sections: ['inbound'] });
    assert.equal(policy.inbound?.allMandatory, true);
    assert.match(policy.inbound?.notes.join(' ') ?? '', /smtpd_tls_wrappermode = yes in main\.cf/);
    const r = evaluateWhatIf(view(MODERN_IN, { ip: '192.0.2.34', n: 2 }), policy);
    assert.equal(verdictOf(r, '192.0.2.34'), 'refused/certain');
  });

  it('"smtpd_tls_security_level =" (empty) is evaluated as Postfix reads it, not as "not set" (review)', () => {
    // Empty: smtpd falls back to smtpd_use_tls / smtpd_enforce_tls, both no by default: level none.
    const cf = parseMainCf('smtpd_tls_security_level =\nsmtp_tls_security_level = may\n');
    const policy = policyFromMainCf(cf, { library: 'current', sections: ['inbound'] });
    assert.equal(policy.inbound?.level, 'none');
    assert.doesNotMatch(policy.inbound?.notes.join(' ') ?? '', /not set/);
    assert.match(
      policy.inbound?.opportunistic.unavailable ?? '',
      /^smtpd_tls_security_level is empty and smtpd_enforce_tls = no, smtpd_use_tls = no: the level is none: smtpd offers no STARTTLS/,
    );
    assert.equal(verdictOf(evaluateWhatIf(view(MODERN_IN), policy), MODERN_IN.ip), 'loses-tls/certain');
    // Left out entirely, it is still taken as an excerpt.
    const excerpt = policyFromMainCf(parseMainCf('smtp_tls_security_level = may\n'), { library: 'current' });
    assert.equal(excerpt.inbound?.level, 'may');
  });

  it('smtpd_tls_security_level = encrypt refuses clients that never used TLS', () => {
    const r = evaluateWhatIf(view(MODERN_IN, { ip: '192.0.2.31', n: 2 }), mainCf('whatif-encrypt.cf'));
    const p = peer(r, '192.0.2.31');
    assert.equal(`${p.verdict}/${p.certainty}`, 'refused/certain');
    assert.match(p.reason, /level encrypt requires TLS of every client/);
    assert.equal(p.affectedSessions, 2);
  });

  it('smtp_tls_security_level = none: outbound TLS peers lose TLS (the client no longer tries)', () => {
    const r = evaluateWhatIf(view(MODERN_OUT), mainCf('whatif-encrypt.cf'));
    assert.equal(verdictOf(r, MODERN_OUT.ip), 'loses-tls/certain');
    assert.match(peer(r, MODERN_OUT.ip).reason, /never tries STARTTLS/);
  });

  it('uses the mandatory settings for mandatory services and the opportunistic ones elsewhere', () => {
    const r = evaluateWhatIf(
      view(
        MODERN_IN,
        { ip: '192.0.2.32', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
        { ip: '192.0.2.33', service: 'submission/smtpd', protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' },
      ),
      mainCf('whatif-golden.cf'),
    );
    assert.equal(verdictOf(r, '192.0.2.32'), 'loses-tls/certain');
    assert.equal(verdictOf(r, '192.0.2.33'), 'refused/certain');
  });
});

describe('whatif: summaries for the HTML report', () => {
  it('gives the common policies with totals and the most affected peers', () => {
    const v = view(
      MODERN_IN,
      { ip: '192.0.2.40', protocol: 'SSLv3', cipher: 'DES-CBC3-SHA' },
      { ip: '192.0.2.41', protocol: 'TLSv1', cipher: 'AES128-SHA' },
    );
    const s = summarizeCommonPolicies(v);
    assert.deepEqual(
      s.map((x) => x.id),
      ['no-sslv3', 'min-tls12', 'min-tls12-intermediate', 'no-weak-ciphers'],
    );
    const noSsl3 = s[0]!;
    assert.equal(noSsl3.totals.inbound?.['loses-tls'].peers, 1);
    assert.equal(noSsl3.affected[0]?.peer.ip, '192.0.2.40');
    assert.equal(s[1]!.totals.inbound?.['loses-tls'].peers, 2);
  });

  it("a policy that also requires the peer's certificate calls no TLS peer unaffected (review)", () => {
    const v = view(MODERN_IN, MODERN_OUT);
    const judged = (text: string) =>
      evaluateWhatIf(v, policyFromMainCf(parseMainCf(text, { source: 'inline' }), { library: 'current' }));
    const base = 'smtpd_tls_cert_file = /x\nsmtpd_tls_key_file = /x\nsmtp_tls_CApath = /etc/ssl/certs\n';
    // Real Postfix 3.7 deferred an "Untrusted" server at verify, and refused a client without a certificate with
    // req_ccert: a peer whose log line says nothing of its certificate cannot be judged.
    for (const level of ['verify', 'secure', 'fingerprint', 'dane-only']) {
      const r = judged(`${base}smtpd_tls_security_level = may\nsmtp_tls_security_level = ${level}\n`);
      assert.equal(peer(r, MODERN_OUT.ip).verdict, 'undetermined', level);
      assert.match(peer(r, MODERN_OUT.ip).reason, new RegExp(`smtp_tls_security_level = ${level} requires`));
      assert.equal(verdictOf(r, MODERN_IN.ip), 'unaffected/certain', level);
    }
    for (const level of ['may', 'encrypt', 'dane']) {
      const r = judged(`${base}smtpd_tls_security_level = may\nsmtp_tls_security_level = ${level}\n`);
      assert.equal(peer(r, MODERN_OUT.ip).verdict, 'unaffected', level);
    }
    // Without trust anchors nothing verifies (real Postfix: "Server certificate not verified" for every server).
    const anchorless = judged('smtpd_tls_security_level = may\nsmtp_tls_security_level = verify\n');
    assert.equal(verdictOf(anchorless, MODERN_OUT.ip), 'refused/likely');
    assert.match(peer(anchorless, MODERN_OUT.ip).reason, /main.cf gives no trust anchors/);
    assert.ok(anchorless.policy.outbound!.notes.some((n) => /no trust anchors for this check/.test(n)));
    const ccert = judged(
      `${base}smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\nsmtpd_tls_CAfile = /x\nsmtp_tls_security_level = may\n`,
    );
    assert.equal(peer(ccert, MODERN_IN.ip).verdict, 'undetermined');
    assert.match(peer(ccert, MODERN_IN.ip).reason, /smtpd_tls_req_ccert = yes requires a client certificate/);
    // Without mandatory TLS, req_ccert does nothing (postconf(5)).
    const optional = judged(
      `${base}smtpd_tls_security_level = may\nsmtpd_tls_req_ccert = yes\nsmtp_tls_security_level = may\n`,
    );
    assert.equal(verdictOf(optional, MODERN_IN.ip), 'unaffected/certain');
  });

  it("judges a certificate check by what each peer's handshakes showed of its certificate", () => {
    const v = view(
      MODERN_IN,
      // A CA-signed certificate first: from here on the log shows trust anchors.
      out('192.0.2.3', 'Trusted'),
      out('192.0.2.1', 'Untrusted', { n: 2 }),
      out('192.0.2.2', 'Verified'),
      out('192.0.2.4', 'Anonymous'),
      out('192.0.2.5', null),
      out('192.0.2.6', 'Verified', { n: 3 }),
      out('192.0.2.6', 'Untrusted'),
      out('192.0.2.7', 'CV=no'),
      out('192.0.2.8', 'verify=OK'),
      // TLSv1 only, at a mandatory floor of TLS 1.2 it already loses TLS: the certificate does not change that.
      out('192.0.2.9', 'Verified', { protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA' }),
      // Seen with TLS and once without: verify requires TLS for that delivery too.
      out('192.0.2.10', 'Verified'),
      { ip: '192.0.2.10', direction: 'outbound', outcome: 'plaintext' },
      // Once plaintext right after a failed handshake (fallback): mandatory TLS defers that mail instead.
      out('192.0.2.11', 'Verified'),
      { ip: '192.0.2.11', direction: 'outbound', outcome: 'failed', reason: 'unsupported-protocol' },
      { ip: '192.0.2.11', direction: 'outbound', outcome: 'plaintext', fallback: true },
    );
    const judged = (text: string) =>
      evaluateWhatIf(
        v,
        policyFromMainCf(parseMainCf(`smtp_tls_CApath = /etc/ssl/certs\n${text}`, { source: 'inline' }), {
          library: 'current',
        }),
      );
    const verify = judged('smtp_tls_security_level = verify\nsmtp_tls_mandatory_protocols = >=TLSv1.2\n');
    assert.equal(verdictOf(verify, '192.0.2.1'), 'refused/likely');
    assert.match(
      peer(verify, '192.0.2.1').reason,
      /certificate did not verify \(Untrusted 2\): mail to it would be deferred/,
    );
    assert.equal(peer(verify, '192.0.2.1').affectedSessions, 2);
    assert.equal(verdictOf(verify, '192.0.2.2'), 'unaffected/likely');
    assert.match(peer(verify, '192.0.2.2').reason, /smtp_tls_verify_cert_match = hostname/);
    assert.equal(verdictOf(verify, '192.0.2.3'), 'unaffected/likely');
    assert.match(peer(verify, '192.0.2.3').reason, /the name was not checked where it was Trusted/);
    assert.equal(verdictOf(verify, '192.0.2.4'), 'undetermined/likely');
    assert.match(peer(verify, '192.0.2.4').reason, /anonymous suite/);
    assert.equal(verdictOf(verify, '192.0.2.5'), 'undetermined/likely');
    // Verified three times, Untrusted once: another certificate, or other trust anchors then; not judged.
    assert.equal(verdictOf(verify, '192.0.2.6'), 'undetermined/likely');
    assert.match(
      peer(verify, '192.0.2.6').reason,
      /verified in some sessions and not in others \(Verified 3, Untrusted 1\)/,
    );
    assert.equal(verdictOf(verify, '192.0.2.7'), 'refused/likely');
    assert.equal(verdictOf(verify, '192.0.2.8'), 'unaffected/likely');
    assert.equal(verdictOf(verify, '192.0.2.9'), 'refused/certain');
    assert.equal(verdictOf(verify, '192.0.2.10'), 'unaffected/likely');
    assert.match(
      peer(verify, '192.0.2.10').reason,
      /its 1 plaintext session would need TLS too \(level verify requires it\)/,
    );
    assert.equal(verdictOf(verify, '192.0.2.11'), 'refused/likely');
    assert.match(
      peer(verify, '192.0.2.11').reason,
      /^1 of its plaintext sessions came within an hour after a failed handshake \(unsupported-protocol\)/,
    );
    assert.ok(!verify.policy.outbound!.notes.some((n) => /trust anchors/.test(n)));
    // Name matching as main.cf sets it.
    const matched = judged('smtp_tls_security_level = verify\nsmtp_tls_verify_cert_match = hostname, nexthop\n');
    assert.match(peer(matched, '192.0.2.2').reason, /smtp_tls_verify_cert_match = hostname, nexthop/);

    // No server's certificate verified at all: the log was written without trust anchors, most likely. Its
    // "Untrusted" then says little: undetermined, and a note says why.
    const anchorless = evaluateWhatIf(
      view(out('192.0.2.1', 'Untrusted'), out('192.0.2.3', null)),
      policyFromMainCf(parseMainCf('smtp_tls_security_level = verify\nsmtp_tls_CAfile = /x\n', { source: 'inline' }), {
        library: 'current',
      }),
    );
    assert.equal(verdictOf(anchorless, '192.0.2.1'), 'undetermined/likely');
    assert.ok(
      anchorless.policy.outbound!.notes.some((n) =>
        /verified against trust anchors in this log \(1 showed "Untrusted"\)/.test(n),
      ),
    );

    // secure wants the destination's name: a certificate that verified under another check says nothing of it.
    const secure = judged('smtp_tls_security_level = secure\n');
    assert.equal(verdictOf(secure, '192.0.2.2'), 'undetermined/likely');
    assert.equal(verdictOf(secure, '192.0.2.3'), 'undetermined/likely');
    assert.match(peer(secure, '192.0.2.3').reason, /smtp_tls_secure_cert_match = nexthop, dot-nexthop/);
    assert.equal(verdictOf(secure, '192.0.2.1'), 'refused/likely');
    // A fingerprint list or TLSA records are not in the log: nothing can be said, even of an untrusted chain.
    for (const level of ['fingerprint', 'dane-only']) {
      const r = judged(`smtp_tls_security_level = ${level}\n`);
      for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
        assert.equal(verdictOf(r, ip), 'undetermined/likely', `${level} ${ip}`);
    }
    // A peer without TLS gets no certificate verdict (a review: "its certificate verified ()").
    const failing = evaluateWhatIf(
      view({ ip: '192.0.2.20', direction: 'outbound', outcome: 'failed', reason: 'no-shared-cipher' }),
      policyFromMainCf(parseMainCf('smtp_tls_security_level = verify\nsmtp_tls_CAfile = /x\n', { source: 'inline' }), {
        library: 'current',
      }),
    );
    assert.doesNotMatch(peer(failing, '192.0.2.20').reason, /certificate/);

    // Inbound, smtpd_tls_req_ccert with mandatory TLS: a client certificate that verified, none, or a bad one.
    const cin = (ip: string, trust: string | null): S => ({ ...MODERN_IN, ip, trust });
    const vin = view(
      MODERN_IN,
      cin('198.51.100.11', 'Trusted'),
      cin('198.51.100.12', 'Anonymous'),
      cin('198.51.100.13', 'Untrusted'),
      cin('198.51.100.14', 'verify=NO'),
    );
    const ccertCf = 'smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\nsmtpd_tls_CAfile = /ca.pem\n';
    const ccert = evaluateWhatIf(
      vin,
      policyFromMainCf(parseMainCf(ccertCf, { source: 'inline' }), { library: 'current' }),
    );
    assert.equal(verdictOf(ccert, '198.51.100.11'), 'unaffected/likely');
    // Some clients showed a certificate, so clients were asked: one that showed none has none.
    assert.equal(verdictOf(ccert, '198.51.100.12'), 'refused/likely');
    assert.match(
      peer(ccert, '198.51.100.12').reason,
      /presented none when asked \(no certificate 1; clients of smtpd showed certificates\)/,
    );
    assert.equal(verdictOf(ccert, '198.51.100.13'), 'refused/likely');
    assert.equal(verdictOf(ccert, '198.51.100.14'), 'refused/likely');
    assert.equal(verdictOf(ccert, MODERN_IN.ip), 'undetermined/likely');
    // No client showed any: smtpd did not ask (smtpd_tls_ask_ccert = no), so "Anonymous" says nothing.
    const unasked = evaluateWhatIf(
      view(cin('198.51.100.12', 'Anonymous')),
      policyFromMainCf(parseMainCf(ccertCf, { source: 'inline' }), { library: 'current' }),
    );
    assert.equal(verdictOf(unasked, '198.51.100.12'), 'undetermined/likely');
    assert.ok(unasked.policy.inbound!.notes.some((n) => /smtpd_tls_ask_ccert = no/.test(n)));
    // Asked on submission only (smtpd_tls_ask_ccert in master.cf): a port-25 client was never asked.
    const perService = evaluateWhatIf(
      view({ ...cin('198.51.100.21', 'Trusted'), service: 'submission/smtpd' }, cin('198.51.100.22', 'Anonymous')),
      policyFromMainCf(parseMainCf(ccertCf, { source: 'inline' }), { library: 'current' }),
    );
    assert.equal(verdictOf(perService, '198.51.100.22'), 'undetermined/likely');
    assert.match(peer(perService, '198.51.100.22').reason, /no client of smtpd showed a certificate/);
    // Client certificates that never verified: smtpd had no CAs then; a note says so.
    const untrustedOnly = evaluateWhatIf(
      view(cin('198.51.100.31', 'Untrusted'), cin('198.51.100.32', 'Untrusted')),
      policyFromMainCf(parseMainCf(ccertCf, { source: 'inline' }), { library: 'current' }),
    );
    assert.equal(verdictOf(untrustedOnly, '198.51.100.31'), 'undetermined/likely');
    assert.ok(untrustedOnly.policy.inbound!.notes.some((n) => /2 clients showed "Untrusted"/.test(n)));
  });

  it('takes "Untrusted" for a certificate that would fail only where the log shows trust anchors (review)', () => {
    const judged = (v: CensusView) =>
      evaluateWhatIf(
        v,
        policyFromMainCf(
          parseMainCf('smtp_tls_security_level = verify\nsmtp_tls_CAfile = /ca.pem\n', { source: 'x' }),
          {
            library: 'current',
          },
        ),
      );
    // CAs added on the way: servers seen only before the first certificate that verified are not judged.
    const periods = judged(
      view(out('192.0.2.1', 'Untrusted'), out('192.0.2.2', 'Trusted'), out('192.0.2.3', 'Untrusted')),
    );
    assert.equal(verdictOf(periods, '192.0.2.1'), 'undetermined/likely');
    assert.match(peer(periods, '192.0.2.1').reason, /all came before the first certificate that verified/);
    assert.equal(verdictOf(periods, '192.0.2.3'), 'refused/likely');
    // Level dane without CAs: DANE servers log "Verified", ordinary ones "Untrusted" and still get mail. That
    // Verified shows no CA: the Untrusted ones are not judged.
    const dane = judged(view(out('192.0.2.1', 'Verified'), out('192.0.2.2', 'Untrusted'), out('192.0.2.3', 'CV=dane')));
    assert.equal(verdictOf(dane, '192.0.2.2'), 'undetermined/likely');
    assert.ok(
      dane.policy.outbound!.notes.some((n) => /no server's certificate verified against trust anchors/.test(n)),
    );
    // A log written at level verify: the Untrusted server got no mail (deferred), so Verified shows the CAs.
    const atVerify = judged(view(out('192.0.2.1', 'Verified'), out('192.0.2.2', 'Untrusted', { messages: 0 })));
    assert.equal(verdictOf(atVerify, '192.0.2.2'), 'refused/likely');
    // A server that verified in some sessions and got its mail in them is no Untrusted server that got mail.
    const mixed = judged(
      view(
        out('192.0.2.1', 'Verified'),
        out('192.0.2.1', 'Untrusted', { messages: 0 }),
        out('192.0.2.2', 'Untrusted', { messages: 0 }),
      ),
    );
    assert.equal(verdictOf(mixed, '192.0.2.2'), 'refused/likely');
    // A plaintext session after a lost connection is only retried over TLS under mandatory TLS: not refused.
    const lost = judged(
      view(
        out('192.0.2.5', 'Trusted'),
        { ip: '192.0.2.5', direction: 'outbound', outcome: 'failed', reason: 'lost-connection' },
        { ip: '192.0.2.5', direction: 'outbound', outcome: 'plaintext', fallback: true },
      ),
    );
    assert.equal(verdictOf(lost, '192.0.2.5'), 'unaffected/likely');
  });
});
