// What a handshake's log line says of the peer's certificate, in one vocabulary for every MTA. What-if needs it to
// judge a policy that checks certificates (Postfix `smtp_tls_security_level = verify`, `smtpd_tls_req_ccert`):
// a peer whose certificate did not verify would be deferred or refused, one whose certificate did would not.
//
// The words as logged (docs/log-formats.md):
// - Postfix tls_log_summary() (§2): `Verified` (trusted and matched the policy: client side, levels verify and up),
//   `Trusted` (the chain verified, the name not checked: what levels may and encrypt log at best, and a server
//   that verified a client certificate), `Untrusted` (a certificate that did not verify; at verify and secure also
//   one whose name did not match), `Anonymous` (no certificate: the client sent none, or was not asked for one,
//   smtpd_tls_ask_ccert = no; or the server used an aNULL suite). No word before Postfix 2.5. (All seen with real
//   Postfix 3.7 here.)
// - Exim `CV=` (§3.1): `yes` (verified; outbound, the host name too by default), `dane`, `no`. Written only when
//   the peer presented a certificate, and only with the tls_certificate_verified selector, so a missing CV= says
//   nothing.
// - Sendmail `verify=` (§4): `OK`, `FAIL`, `DANE_FAIL`, `NO` (asked for, none sent), `NOT` (not asked for),
//   `NONE`, `DANE_TEMP` and others (nothing known).

import type { CertificateTrust } from '../model/types.js';

/** Index ↔ kind: the peer table keeps a kind as its index. */
export const CERTIFICATE_TRUSTS: readonly CertificateTrust[] = ['verified', 'trusted', 'untrusted', 'none', 'unknown'];

export const CertificateIndex = { verified: 0, trusted: 1, untrusted: 2, none: 3, unknown: 4 } as const;

/** The index in CERTIFICATE_TRUSTS of what `trust` (a handshake observation's word, as logged) says. */
export function certificateIndexOf(trust: string | null): number {
  if (trust === null) return CertificateIndex.unknown;
  switch (trust) {
    case 'Verified':
    case 'CV=yes':
    case 'CV=dane':
      return CertificateIndex.verified;
    case 'Trusted':
    case 'verify=OK':
      return CertificateIndex.trusted;
    case 'Untrusted':
    case 'CV=no':
    case 'verify=FAIL':
    case 'verify=DANE_FAIL':
      return CertificateIndex.untrusted;
    case 'Anonymous':
    case 'verify=NO':
      return CertificateIndex.none;
    default:
      return CertificateIndex.unknown;
  }
}
