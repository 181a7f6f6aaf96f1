// What a TLS policy would do to each peer seen in the logs: unaffected, downgraded (keeps TLS with a suite or
// version it was seen using), loses-tls (opportunistic TLS: plaintext or nothing), refused (TLS required: no mail
// at all), or undetermined (the log does not say enough), each with a certainty and the reasoning in words.
//
// The rules, and why they hold (RFC 8446 §4.1.3/§D, RFC 5246 §7.4.1; OpenSSL ssl/statem/statem_lib.c):
//   - The negotiated version is the highest one both sides enable: the server picks it from the client's range.
//     So when a peer negotiated at most TLSv1 while the same side of this server negotiated TLSv1.2 or newer with
//     others, TLSv1 is that peer's own maximum (as a client: the highest it offers; as a server: the highest it
//     supports), and a policy allowing only newer versions certainly leaves it without TLS. Without such
//     evidence this side may have been the limit, and the loss is only likely.
//   - The negotiated suite is the client's favourite among the server's (OpenSSL servers follow the client's
//     order unless tls_preempt_cipherlist = yes). When a peer's only suite is removed it may still share another
//     allowed suite with us, or not: likely. Certain only when no allowed suite works with its version at all
//     (e.g. it speaks TLS 1.0 and every allowed suite needs TLS 1.2).
//   - A peer seen with an allowed handshake as well as blocked ones keeps TLS (downgraded, likely: the blocked
//     sessions may have come from another sender behind the same address, which would then lose TLS).
//   - Losing TLS means plaintext or nothing where TLS is optional (port 25; outbound `may`, where Postfix retries in
//     plaintext only after minimal_backoff_time and never with SASL credentials: smtp_proto.c
//     PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE), and no mail at all where it is required (submission, smtps,
//     `encrypt` and up; IMAP/POP3, where Dovecot refuses plaintext logins by default).
//   - Peers that never used TLS are unaffected by a protocol or cipher policy, unless the policy makes TLS
//     mandatory for every session (main.cf `encrypt`): then they are refused. Peers whose handshakes all failed
//     already get no TLS; the policy changes nothing for them.
// TLS 1.3 suites are never restricted by cipher lists (OpenSSL configures them apart; Postfix's grades do not
// touch them).

import type { CensusView, DirectionView, PeerStats } from '../aggregate/census-view.js';
import { domainOf } from '../aggregate/peer-rows.js';
import type { PeerTable } from '../aggregate/peer-table.js';
import { lookupCipherFor } from '../ciphers/lookup.js';
import { CIPHER_SUITES, type CipherSuite } from '../ciphers/suites.generated.js';
import { CERTIFICATE_TRUSTS } from '../dialects/certificate-trust.js';
import {
  type CertificateTrust,
  type Direction,
  FAILURE_REASONS,
  type FailureReason,
  type Protocol,
} from '../model/types.js';
import {
  canCompleteHandshake,
  isCipherAllowedAtSecurityLevel,
  isProtocolPermittedAtSecurityLevel,
} from './openssl-security-level.js';
import type { TlsProtocol } from './postfix-protocols.js';
import {
  type CertificateCheck,
  isMandatoryService,
  POLICY_PRESETS,
  POLICY_PROTOCOLS,
  type PolicyPreset,
  presetPolicy,
  protocolRank,
  type SectionPolicy,
  suiteName,
  type TlsSettings,
  WHATIF_SECTIONS,
  type WhatIfPolicy,
  type WhatIfSection,
} from './whatif-policy.js';

export const WHATIF_SCHEMA = 'tlscensus/whatif@1';

export type Verdict = 'unaffected' | 'downgraded' | 'loses-tls' | 'refused' | 'undetermined';
/** Worst first: the order of tables and of the combination rule. */
export const VERDICTS: readonly Verdict[] = ['refused', 'loses-tls', 'downgraded', 'undetermined', 'unaffected'];
export type Certainty = 'certain' | 'likely';

export interface HandshakeJudgement {
  protocol: Protocol;
  /** As logged. */
  cipher: string;
  iana: string | null;
  count: number;
  outcome: 'kept' | 'blocked' | 'unknown';
  /** What blocks it: the version (policy or library), the suite, or no TLS at all; null when kept. */
  blockedBy: 'version' | 'cipher' | 'unavailable' | null;
  /** Why it is blocked or cannot be judged; null when kept. */
  why: string | null;
  /** The service it was seen on, when the peer's services were judged apart (a peer of several services). */
  service?: string;
}

export interface PeerVerdict {
  direction: Direction;
  /** `mailbox` for IMAP/POP3 (direction inbound), kept apart like in the report. */
  section: WhatIfSection;
  /** `nameLogged: false` when the MTA never logs peer names (Dovecot, Exchange): unnamed, not unknown. */
  peer: { host: string | null; ip: string; domain: string | null; nameLogged?: false };
  verdict: Verdict;
  certainty: Certainty;
  reason: string;
  sessions: number;
  messages: number;
  /** Sessions whose TLS this policy changes (blocked handshakes, or plaintext sessions it would refuse). */
  affectedSessions: number;
  tls: number;
  plaintext: number;
  failed: number;
  /** The peer used a service where TLS is required. */
  mandatory: boolean;
  services: string[];
  handshakes: HandshakeJudgement[];
}

export interface VerdictTotals {
  peers: number;
  sessions: number;
  messages: number;
  affectedSessions: number;
}

export type SectionTotals = Record<Verdict, VerdictTotals>;

export interface TlsSettingsJson {
  tls: boolean;
  unavailable: string | null;
  protocols: TlsProtocol[];
  /** IANA names; null when the policy leaves ciphers unchanged. */
  ciphers: string[] | null;
  securityLevel: number | null;
  summary: string;
}

export interface SectionPolicyJson {
  role: 'server' | 'client';
  level: string | null;
  allMandatory: boolean;
  refusesPlaintext: boolean;
  mandatoryServices: string[];
  opportunistic: TlsSettingsJson;
  mandatory: TlsSettingsJson;
  /** master.cf's services of the section, each under its own settings (empty without master.cf). */
  services: ServicePolicyJson[];
  /** A service's policy: the sessions it governs; null for the section's own. */
  scope: string | null;
  notes: string[];
}

export interface ServicePolicyJson {
  service: string;
  masterCf: { name: string; type: string; line: number; overrides: string[] }[];
  /** One per distinct configuration among the entries (several: the log cannot tell them apart). */
  policies: SectionPolicyJson[];
}

export interface WhatIfPolicyJson {
  source: WhatIfPolicy['source'];
  description: string;
  openssl: WhatIfPolicy['library'];
  inbound: SectionPolicyJson | null;
  outbound: SectionPolicyJson | null;
  mailbox: SectionPolicyJson | null;
  notes: string[];
}

export interface WhatIfResult {
  schema: typeof WHATIF_SCHEMA;
  window: { first: string | null; last: string | null };
  policy: WhatIfPolicyJson;
  /** Every peer of every evaluated section, worst verdict first. */
  peers: PeerVerdict[];
  /** Per evaluated section, per verdict. */
  totals: Partial<Record<WhatIfSection, SectionTotals>>;
}

// ------------------------------------------------------------------------------------------------- judging

const LEGACY: ReadonlySet<string> = new Set(['SSLv3', 'TLSv1', 'TLSv1.1']);

interface Judged extends HandshakeJudgement {
  /** The version it ran with: as logged, or inferred from a suite that exists only in TLS 1.2 or 1.3. */
  effective: TlsProtocol | null;
  suite: CipherSuite | null;
}

function judgeHandshake(
  protocol: Protocol,
  cipher: string,
  count: number,
  settings: TlsSettings,
  role: 'server' | 'client',
): Judged {
  const suite = lookupCipherFor(protocol, cipher);
  const iana = suite?.iana ?? null;
  // Fields one by one, never `{ ...base }`: an object spread costs over a microsecond in Node 20, and the HTML
  // report judges every peer under several policies (half a million peers at 1 GiB of log).
  const judged = (
    effective: TlsProtocol | null,
    outcome: Judged['outcome'],
    blockedBy: Judged['blockedBy'],
    why: string | null,
  ): Judged => ({ protocol, cipher, iana, count, suite, effective, outcome, blockedBy, why });
  const kept = (effective: TlsProtocol | null) => judged(effective, 'kept', null, null);
  const blocked = (effective: TlsProtocol | null, by: 'version' | 'cipher' | 'unavailable', why: string) =>
    judged(effective, 'blocked', by, why);
  const unknown = (effective: TlsProtocol | null, why: string) => judged(effective, 'unknown', null, why);
  if (settings.unavailable !== null) return blocked(null, 'unavailable', settings.unavailable);

  let effective: TlsProtocol | null = protocol === 'unknown' ? null : protocol;
  // A suite that exists only in TLS 1.3 (or only from TLS 1.2 on) says the version the log left out.
  if (effective === null && suite) {
    if (suite.minProtocol === 'TLSv1.3') effective = 'TLSv1.3';
    else if (suite.minProtocol === 'TLSv1.2') effective = 'TLSv1.2';
  }
  const name = suite?.openssl ?? cipher;
  if (effective === null) {
    const candidates = POLICY_PROTOCOLS.filter(
      (p) => p !== 'TLSv1.3' && (!suite || protocolRank(p) >= protocolRank(suite.minProtocol as TlsProtocol)),
    );
    const allowed = candidates.filter((p) => settings.protocols.has(p));
    if (allowed.length === 0) return blocked(null, 'version', `none of ${candidates.join(', ')} is allowed`);
    if (allowed.length < candidates.length) return unknown(null, 'the log does not say which protocol version it used');
  } else if (!settings.protocols.has(effective)) {
    return blocked(effective, 'version', `${effective} is not allowed`);
  }
  const level = settings.securityLevel;
  const rules = settings.securityLevelRules;
  const openssl = rules === '3.0' ? 'OpenSSL 3.0' : 'OpenSSL';
  if (effective !== 'TLSv1.3' && settings.ciphers !== null) {
    if (!suite) return unknown(effective, `cipher "${cipher}" is not in the cipher table`);
    if (!settings.ciphers.has(suiteName(suite))) {
      // The allowed suites are those the level lets through: say so when the level is what removed it.
      return level !== null && !isCipherAllowedAtSecurityLevel(suite, level)
        ? blocked(effective, 'cipher', `${openssl} refuses ${name} at security level ${level}`)
        : blocked(effective, 'cipher', `${name} is not allowed`);
    }
  }
  if (level !== null && effective !== null) {
    if (!isProtocolPermittedAtSecurityLevel(effective, level)) {
      return blocked(effective, 'version', `${openssl} refuses ${effective} at security level ${level}`);
    }
    if (rules === '3.0' && role === 'server' && level >= 1 && LEGACY.has(effective)) {
      return blocked(
        effective,
        'version',
        `OpenSSL 3.0 cannot sign a ${effective} handshake as a server at security level ${level} (SHA-1)`,
      );
    }
    if (suite && !canCompleteHandshake(role, effective, suite, level, rules)) {
      return isCipherAllowedAtSecurityLevel(suite, level)
        ? blocked(
            effective,
            'cipher',
            `OpenSSL 3.0 as a client does ${effective} at security level ${level} only with RSA key transport or PSK, not ${name}`,
          )
        : blocked(effective, 'cipher', `${openssl} refuses ${name} at security level ${level}`);
    }
  }
  return kept(effective);
}

function suitesOf(p: PeerStats): Array<{ protocol: Protocol; cipher: string; count: number }> {
  return [...p.suites.entries()]
    .map(([key, count]) => {
      const bar = key.indexOf('|');
      return { protocol: key.slice(0, bar) as Protocol, cipher: key.slice(bar + 1), count };
    })
    .sort(
      (a, b) =>
        b.count - a.count ||
        POLICY_PROTOCOLS.indexOf(b.protocol as TlsProtocol) - POLICY_PROTOCOLS.indexOf(a.protocol as TlsProtocol) ||
        (a.cipher < b.cipher ? -1 : a.cipher > b.cipher ? 1 : 0),
    );
}

function describe(list: readonly Judged[], max = 3): string {
  const shown = list.slice(0, max).map((j) => `${j.protocol} ${j.cipher} ×${j.count}`);
  return list.length > max ? `${shown.join(', ')}, …` : shown.join(', ');
}

function range(protocols: ReadonlySet<TlsProtocol>): string {
  const list = POLICY_PROTOCOLS.filter((p) => protocols.has(p));
  return list.length === 0 ? 'none' : list.join(', ');
}

function sum(list: readonly { count: number }[]): number {
  return list.reduce((n, x) => n + x.count, 0);
}

interface Context {
  readonly section: WhatIfSection;
  readonly policy: SectionPolicy;
  /** Newest version this side negotiated with anyone in the window, or null. */
  readonly sectionMax: TlsProtocol | null;
  /** The service sectionMax is of, when a peer's services are judged apart (its own table's newest); else null. */
  readonly maxOn: string | null;
  /** What the section's log says of certificates, when the policy checks them. */
  readonly certificates: SectionCertificates | null;
  /** The section's peers per service (DirectionView.byService), when the census kept them. */
  readonly byService: ReadonlyMap<string, PeerTable> | null;
}

interface Judgement {
  verdict: Verdict;
  certainty: Certainty;
  reason: string;
  affectedSessions: number;
  handshakes: Judged[];
}

function consequence(ctx: Context, mandatory: boolean, services: readonly string[]): string {
  if (ctx.section === 'mailbox')
    return 'IMAP/POP3 require TLS (Dovecot refuses plaintext logins): it could no longer log in';
  if (ctx.section === 'outbound') {
    return mandatory
      ? 'TLS is mandatory for it: mail to it would be deferred, then bounced'
      : 'at level may Postfix then delivers in plaintext, but only on a later retry (after minimal_backoff_time) and never where SASL credentials are set';
  }
  if (mandatory) {
    const where = ctx.policy.allMandatory
      ? ctx.policy.scope !== null
        ? `${ctx.policy.scope}, by ${requirement(ctx.policy, false)}`
        : `every service (level ${ctx.policy.level ?? 'encrypt'})`
      : services.filter((s) => isMandatoryService(s, ctx.policy.mandatoryServices)).join(', ');
    return `TLS is mandatory on ${where}: it could no longer send at all`;
  }
  return ctx.policy.scope !== null
    ? `TLS is optional on ${ctx.policy.scope}: it would send in plaintext, or give up`
    : 'port 25 TLS is opportunistic: it would send in plaintext, or give up';
}

/**
 * What makes every session of a policy require TLS, in words: `level encrypt` (main.cf), or with master.cf the
 * service's level or wrapper mode and the service (`level encrypt on submission/smtpd (master.cf submission)`).
 */
function requirement(policy: SectionPolicy, withScope = true): string {
  if (policy.scope === null) return `level ${policy.level}`;
  const wrapper = policy.level === null || policy.level === 'may' || policy.level === 'none';
  const what = wrapper ? 'smtpd_tls_wrappermode = yes' : `level ${policy.level}`;
  return withScope ? `${what} on ${policy.scope}` : what;
}

function lostVerdict(mandatory: boolean): Verdict {
  return mandatory ? 'refused' : 'loses-tls';
}

function noTlsJudgement(p: PeerStats, ctx: Context, mandatory: boolean): Judgement {
  const failures = FAILURE_REASONS.filter((r) => (p.reasons.get(r) ?? 0) > 0)
    .map((r) => `${r} ${p.reasons.get(r)}`)
    .join(', ');
  if (p.plaintext > 0 && ctx.policy.refusesPlaintext) {
    const why =
      ctx.section === 'outbound'
        ? `it never used TLS (${p.plaintext} plaintext deliver${p.plaintext === 1 ? 'y' : 'ies'}), and ${requirement(ctx.policy)} requires TLS for every destination: mail to it would be deferred, then bounced`
        : `it never used TLS (${p.plaintext} plaintext session${p.plaintext === 1 ? '' : 's'}), and ${requirement(ctx.policy)} requires TLS of every client: it would be refused unless it starts using STARTTLS`;
    return { verdict: 'refused', certainty: 'certain', reason: why, affectedSessions: p.plaintext, handshakes: [] };
  }
  let reason: string;
  if (p.failed > 0) {
    reason = `already fails its TLS handshakes (${p.failed}: ${failures}) and completed none${
      p.plaintext > 0 ? `, then sent in plaintext (${p.plaintext} sessions)` : ''
    }: it has no TLS now and none under this policy`;
  } else if (p.plaintext > 0) {
    const what = ctx.section === 'outbound' ? ['delivery', 'deliveries'] : ['session', 'sessions'];
    reason = `never used TLS (${p.plaintext} plaintext ${p.plaintext === 1 ? what[0] : what[1]}): a TLS protocol or cipher policy does not change it`;
    if (mandatory) reason += ' (TLS is evidently not enforced on its service today)';
  } else {
    reason = `no TLS or mail to judge (${p.noCommand > 0 ? `${p.noCommand} connections without a command` : 'no completed session'})`;
  }
  return { verdict: 'unaffected', certainty: 'certain', reason, affectedSessions: 0, handshakes: [] };
}

function judgeUnder(
  p: PeerStats,
  settings: TlsSettings,
  ctx: Context,
  mandatory: boolean,
  services: readonly string[],
): Judgement {
  if (p.tls === 0) return noTlsJudgement(p, ctx, mandatory);
  const role = ctx.policy.role;
  const handshakes = suitesOf(p).map((s) => judgeHandshake(s.protocol, s.cipher, s.count, settings, role));
  const kept = handshakes.filter((h) => h.outcome === 'kept');
  const blocked = handshakes.filter((h) => h.outcome === 'blocked');
  const unknown = handshakes.filter((h) => h.outcome === 'unknown');
  const extras: string[] = [];
  if (p.failed > 0) extras.push(`it also failed ${p.failed} handshake${p.failed === 1 ? '' : 's'}`);
  if (p.plaintext > 0) {
    const sessions = `its ${p.plaintext} plaintext session${p.plaintext === 1 ? '' : 's'}`;
    // Under a level that requires TLS everywhere they cannot stay plaintext; a peer seen using TLS would most
    // likely use it then (the integration run's outbound peer, at level verify: "stay as they are" was wrong).
    extras.push(
      ctx.policy.refusesPlaintext
        ? `${sessions} would need TLS too (${requirement(ctx.policy)} requires it), which it was seen using`
        : `${sessions} stay as they are`,
    );
  }
  const tail = extras.length > 0 ? `; ${extras.join('; ')}` : '';
  const lost = lostVerdict(mandatory);
  const then = consequence(ctx, mandatory, services);

  if (settings.unavailable !== null) {
    return {
      verdict: lost,
      certainty: 'certain',
      reason: `${settings.unavailable}; its ${p.tls} TLS session${p.tls === 1 ? '' : 's'} would have none — ${then}${tail}`,
      affectedSessions: p.tls,
      handshakes,
    };
  }
  if (blocked.length === 0) {
    if (unknown.length === 0) {
      return {
        verdict: 'unaffected',
        certainty: 'certain',
        reason: `every handshake it made stays allowed (${describe(kept)})${tail}`,
        affectedSessions: 0,
        handshakes,
      };
    }
    if (kept.length > 0) {
      return {
        verdict: 'unaffected',
        certainty: 'likely',
        reason: `its handshakes ${describe(kept)} stay allowed; ${sum(unknown)} cannot be checked (${unknown[0]!.why})${tail}`,
        affectedSessions: 0,
        handshakes,
      };
    }
    return {
      verdict: 'undetermined',
      certainty: 'likely',
      reason: `its ${sum(unknown)} handshake${sum(unknown) === 1 ? '' : 's'} cannot be checked: ${unknown[0]!.why}${tail}`,
      affectedSessions: 0,
      handshakes,
    };
  }
  const other = ctx.section === 'outbound' ? 'server' : 'client';
  if (kept.length > 0) {
    return {
      verdict: 'downgraded',
      certainty: 'likely',
      reason: `keeps TLS with ${describe(kept)}, which it was seen using; ${describe(blocked)} would no longer work (${blocked[0]!.why}) — if those sessions came from another ${other} behind this address, that one would ${mandatory ? 'be refused' : 'lose TLS'}${tail}`,
      affectedSessions: sum(blocked),
      handshakes,
    };
  }

  // Nothing it was seen using still works: can it reach something else?
  const known = handshakes.filter((h) => h.effective !== null).map((h) => h.effective!);
  const peerMax = known.length > 0 ? known.reduce((a, b) => (protocolRank(b) > protocolRank(a) ? b : a)) : null;
  const evidence = peerMax !== null && ctx.sectionMax !== null && protocolRank(ctx.sectionMax) > protocolRank(peerMax);
  const versionBlocked = blocked.filter((h) => h.blockedBy === 'version');
  const cipherBlocked = blocked.filter((h) => h.blockedBy === 'cipher');
  const allowedBelow =
    peerMax === null
      ? []
      : POLICY_PROTOCOLS.filter(
          (v) =>
            protocolRank(v) < protocolRank(peerMax) &&
            settings.protocols.has(v) &&
            !blockedByLibrary(v, settings, role),
        );
  if (cipherBlocked.length === 0 && unknown.length === 0 && allowedBelow.length > 0) {
    const lower = allowedBelow.at(-1)!;
    return {
      verdict: 'downgraded',
      certainty: 'likely',
      reason: `${describe(versionBlocked)} would no longer work (${versionBlocked[0]!.why}), but ${lower} stays allowed: most ${other}s also speak older versions, so it would probably negotiate ${lower} instead (not seen in the log)${tail}`,
      affectedSessions: sum(blocked),
      handshakes,
    };
  }
  const parts: string[] = [];
  let certain = unknown.length === 0;
  if (versionBlocked.length > 0) {
    const seen = describe(versionBlocked);
    const allowed = range(settings.protocols);
    if (evidence) {
      const side = `${ctx.section === 'outbound' ? 'our client' : 'this server'}${ctx.maxOn !== null ? ` (${ctx.maxOn})` : ''}`;
      const others = ctx.section === 'outbound' ? 'other servers' : 'other clients';
      const whose = ctx.section === 'outbound' ? 'this server supports' : 'this client offers';
      parts.push(
        `negotiated at most ${peerMax} (${seen}) while ${side} negotiated up to ${ctx.sectionMax} with ${others}: ${peerMax} is the highest version ${whose}, and ${versionBlocked[0]!.why} (allowed: ${allowed})`,
      );
    } else {
      certain = false;
      parts.push(
        `negotiated at most ${peerMax ?? 'an unlogged version'} (${seen}) and ${versionBlocked[0]!.why} (allowed: ${allowed}); nothing in this direction negotiated a newer version, so this side may have been the limit and the ${other} may support more, or not`,
      );
    }
  }
  if (cipherBlocked.length > 0) {
    const only = cipherBlocked.length === 1 && versionBlocked.length === 0 ? 'its only suite' : 'its suites';
    const noneFit = cipherBlocked.every((h) => h.effective !== null && !anyAllowedSuiteFor(h.effective, settings));
    if (noneFit) {
      parts.push(
        `${only} ${describe(cipherBlocked)} ${cipherBlocked.length === 1 ? 'is' : 'are'} not allowed (${cipherBlocked[0]!.why}), and no allowed suite works with ${cipherBlocked[0]!.effective}`,
      );
    } else {
      certain = false;
      const chose =
        ctx.section === 'outbound'
          ? 'the server chose it from the suites our client offered'
          : 'it chose it among the suites this server offered (OpenSSL follows the client’s order)';
      parts.push(
        `${only} ${describe(cipherBlocked)} ${cipherBlocked.length === 1 ? 'is' : 'are'} not allowed (${cipherBlocked[0]!.why}); ${chose}, so it may still share another allowed suite, or not`,
      );
    }
  }
  if (unknown.length > 0) parts.push(`${sum(unknown)} more cannot be checked (${unknown[0]!.why})`);
  return {
    verdict: lost,
    certainty: certain ? 'certain' : 'likely',
    reason: `${parts.join('; ')} — ${then}${tail}`,
    affectedSessions: sum(blocked) + sum(unknown),
    handshakes,
  };
}

function blockedByLibrary(v: TlsProtocol, settings: TlsSettings, role: 'server' | 'client'): boolean {
  const level = settings.securityLevel;
  if (level === null) return false;
  const sha1 = settings.securityLevelRules === '3.0' && role === 'server' && level >= 1 && LEGACY.has(v);
  return !isProtocolPermittedAtSecurityLevel(v, level) || sha1;
}

const NEEDS_CREDENTIALS = /PSK|SRP/;
const SUITES_BY_NAME = new Map(CIPHER_SUITES.map((s) => [suiteName(s), s]));

/** Whether any allowed TLS ≤ 1.2 suite can run with `protocol` (TLS 1.2-only suites cannot run with TLS 1.0). */
function anyAllowedSuiteFor(protocol: TlsProtocol, settings: TlsSettings): boolean {
  if (protocol === 'TLSv1.3' || settings.ciphers === null) return true;
  for (const name of settings.ciphers) {
    const suite = SUITES_BY_NAME.get(name);
    // PSK and SRP suites need credentials mail servers do not configure; they never carry mail.
    if (!suite || suite.minProtocol === 'TLSv1.3' || NEEDS_CREDENTIALS.test(suite.kx)) continue;
    if (protocolRank(suite.minProtocol as TlsProtocol) <= protocolRank(protocol)) return true;
  }
  return false;
}

/**
 * What the log says of certificates in a whole section, which decides how much one peer's word is worth: a
 * Postfix that had no trust anchors when it wrote the log calls every certificate "Untrusted", and one that did not
 * ask clients for certificates (smtpd_tls_ask_ccert = no, the default) calls every client "Anonymous" (both seen
 * with real Postfix 3.7).
 */
interface SectionCertificates {
  /**
   * From when on the log shows trust anchors: the earliest time a peer's certificate surely verified (its last
   * session, or its first when every session of it verified; anchors, once added, stay; -Infinity when its times
   * are unknown), or null when none did. "Trusted" counts; "Verified" only while no server that showed
   * "Untrusted" got mail: a DANE or fingerprint match logs Verified without any CA (level dane), while a level
   * that verifies against CAs never delivers to an Untrusted server (a review).
   */
  readonly anchoredSinceMs: number | null;
  /** Services on which some client showed a certificate: clients there were asked for one (smtpd_tls_ask_ccert). */
  readonly askedServices: ReadonlySet<string>;
  /** Peers whose certificate did not verify (Untrusted, CV=no, verify=FAIL). */
  readonly untrustedPeers: number;
}

function sectionCertificates(dir: DirectionView): SectionCertificates {
  let trustedSince = Number.POSITIVE_INFINITY;
  let verifiedSince = Number.POSITIVE_INFINITY;
  let untrustedDelivered = false;
  let untrustedPeers = 0;
  const askedServices = new Set<string>();
  for (const p of dir.peers.values()) {
    const c = p.certificates;
    const trusted = c.get('trusted') ?? 0;
    const verified = c.get('verified') ?? 0;
    const untrusted = c.get('untrusted') ?? 0;
    // When its certificate surely verified: at its first session if every session was a handshake that did.
    const at = (trusted + verified === p.sessions ? p.firstMs : p.lastMs) ?? Number.NEGATIVE_INFINITY;
    if (trusted > 0) trustedSince = Math.min(trustedSince, at);
    if (verified > 0) verifiedSince = Math.min(verifiedSince, at);
    if (untrusted > 0) {
      untrustedPeers++;
      // (A peer that also verified may have got its mail in those sessions.)
      if (trusted + verified === 0 && p.messages > 0) untrustedDelivered = true;
    }
    if (trusted + verified + untrusted > 0) for (const service of p.services) askedServices.add(service);
  }
  const since = Math.min(trustedSince, untrustedDelivered ? Number.POSITIVE_INFINITY : verifiedSince);
  return { anchoredSinceMs: since === Number.POSITIVE_INFINITY ? null : since, askedServices, untrustedPeers };
}

/**
 * A peer with TLS sessions whose handshakes stay allowed (`judgement`: unaffected or downgraded) under a policy
 * that also checks its certificate, judged by what its handshakes showed of it (dialects/certificate-trust.ts) and
 * by what the section's log says of certificates at all (`seen`). Checked with real Postfix 3.7: at verify and
 * secure an "Untrusted" server is deferred ("Server certificate not verified"), and with smtpd_tls_req_ccert an
 * "Anonymous" or "Untrusted" client is refused; without trust anchors nothing verifies.
 * - main.cf gives no trust anchors: nothing verifies — refused, likely (the file may be an excerpt);
 * - a certificate that did not verify while the log shows trust anchors: it would fail again — refused, likely,
 *   for those sessions; before the log shows any (none verified yet, or only later): undetermined;
 * - a client that showed none on a service where other clients showed one (so they were asked): refused, likely;
 *   where nobody on its service showed one, smtpd did not ask there: undetermined;
 * - a certificate that verified (Verified: under the policy then in force, which may have been DANE or a
 *   fingerprint; Trusted: the chain, the name not checked, as at level may) passes verify and a client check,
 *   likely; `secure` wants the destination's name, which neither shows: undetermined;
 * - both kinds, nothing logged, an anonymous suite outbound, a fingerprint list or TLSA records: undetermined.
 */
function judgeCertificate(
  p: PeerStats,
  check: CertificateCheck,
  judgement: Judgement,
  seen: SectionCertificates,
): Judgement {
  const n = (kind: CertificateTrust) => p.certificates.get(kind) ?? 0;
  const shown = CERTIFICATE_TRUSTS.filter((k) => n(k) > 0)
    .map((k) => `${CERTIFICATE_WORDS[k]} ${n(k)}`)
    .join(', ');
  const client = check.level === 'client';
  const stopped = client ? 'it could no longer send at all' : 'mail to it would be deferred, then bounced';
  const refused = (why: string, sessions: number): Judgement => ({
    ...judgement,
    verdict: 'refused',
    certainty: 'likely',
    reason: `${why}: ${stopped}; ${judgement.reason}`,
    affectedSessions: Math.max(judgement.affectedSessions, sessions),
  });
  const undetermined = (why: string): Judgement =>
    judgement.verdict === 'downgraded'
      ? { ...judgement, reason: `${judgement.reason}; ${check.requirement}, and ${why}` }
      : {
          ...judgement,
          verdict: 'undetermined',
          certainty: 'likely',
          reason: `its handshakes stay allowed, but ${check.requirement}, and ${why}; ${judgement.reason}`,
        };
  if (check.level === 'fingerprint' || check.level === 'dane-only') {
    return undetermined(`the log cannot say whether it would (${shown})`);
  }
  if (check.anchors.length === 0) {
    return refused(
      `${check.requirement}, and main.cf gives no trust anchors (${client ? 'smtpd_tls_CAfile, smtpd_tls_CApath' : 'smtp_tls_CAfile, smtp_tls_CApath, smtp_tls_trust_anchor_file'}), so no certificate verifies (unless they are set in a part of main.cf not given)`,
      p.tls,
    );
  }
  const good = n('verified') + n('trusted');
  const bad = n('untrusted');
  if (bad > 0 && good > 0) {
    return undetermined(
      `its certificate verified in some sessions and not in others (${shown}): another certificate behind the address, or a change of trust anchors`,
    );
  }
  if (bad > 0) {
    if (seen.anchoredSinceMs === null) {
      return undetermined(
        `no certificate verified against trust anchors in this part of the log (${shown} here): it was probably written without them`,
      );
    }
    if (p.lastMs !== null && p.lastMs < seen.anchoredSinceMs) {
      return undetermined(
        `its sessions (${shown}) all came before the first certificate that verified in this log: the trust anchors may have been added since`,
      );
    }
    return refused(
      `${check.requirement}, and its ${client ? 'client ' : ''}certificate did not verify (${shown})`,
      bad,
    );
  }
  if (n('none') > 0) {
    if (!client) return undetermined(`an anonymous suite was used with it, so no certificate was sent (${shown})`);
    const services = [...p.services];
    const asked = services.filter((s) => seen.askedServices.has(s));
    if (asked.length > 0) {
      return refused(
        `${check.requirement}, and it presented none when asked (${shown}; clients of ${asked.join(', ')} showed certificates)`,
        n('none'),
      );
    }
    return undetermined(
      `no client of ${services.join(', ') || 'its service'} showed a certificate in this log: smtpd_tls_ask_ccert was probably off there, so the log cannot say whether it has one (most SMTP clients have none)`,
    );
  }
  if (n('unknown') > 0) return undetermined(`the log does not say what its certificate showed (${shown})`);
  if (check.level === 'secure') {
    return undetermined(
      `its certificate verified (${shown}), but the log does not say whether it names the destination, as secure wants`,
    );
  }
  const nameNote =
    n('trusted') > 0 && !client
      ? '; the name was not checked where it was Trusted (as at level may), and verify checks it: most MX certificates carry their host name'
      : '';
  return {
    ...judgement,
    certainty: 'likely',
    reason: `${judgement.reason}; its ${client ? 'client ' : ''}certificate verified (${shown}), as ${check.requirement}${nameNote}`,
  };
}

/** The words a certificate kind is shown with in a reason (Postfix's, which most logs have). */
const CERTIFICATE_WORDS: Record<CertificateTrust, string> = {
  verified: 'Verified',
  trusted: 'Trusted',
  untrusted: 'Untrusted',
  none: 'no certificate',
  unknown: 'not logged',
};

/**
 * A peer's plaintext sessions under a level that requires TLS for every session (refusesPlaintext). Those within an
 * hour after a failed handshake (the fallback detector's mark) are mail that mandatory TLS, which never falls back,
 * would have deferred or refused instead — when the failure would recur: no shared protocol, suite or certificate
 * (a lost connection or a timeout is only retried over TLS). No more of them than there were failures (a review:
 * the hour also takes in plaintext the peer sent for other reasons). The other plaintext sessions need TLS too,
 * which a peer seen using it most likely manages: no longer certain.
 */
function judgePlaintextUnderMandatory(p: PeerStats, judgement: Judgement, ctx: Context): Judgement {
  const recurring = RECURRING_FAILURES.filter((r) => (p.reasons.get(r) ?? 0) > 0);
  const failures = recurring.reduce((sum, r) => sum + (p.reasons.get(r) ?? 0), 0);
  const fellBack = Math.min(p.fallbackSessions, failures);
  if (fellBack > 0 && (judgement.verdict === 'unaffected' || judgement.verdict === 'downgraded')) {
    const what = ctx.section === 'outbound' ? 'deferred, then bounced' : 'refused';
    return {
      ...judgement,
      verdict: 'refused',
      certainty: 'likely',
      reason: `${fellBack} of its plaintext sessions came within an hour after a failed handshake (${recurring.join(', ')}); ${requirement(ctx.policy)} requires TLS and never falls back to plaintext, so that mail would be ${what} unless the handshake now succeeds; ${judgement.reason}`,
      affectedSessions: Math.max(judgement.affectedSessions, fellBack),
    };
  }
  return judgement.certainty === 'certain' && judgement.verdict === 'unaffected'
    ? { ...judgement, certainty: 'likely' }
    : judgement;
}

/** Handshake failures that happen again on the next try with the same settings on both sides. */
const RECURRING_FAILURES: readonly FailureReason[] = ['unsupported-protocol', 'no-shared-cipher', 'certificate'];

function worse(a: Judgement, b: Judgement): Judgement {
  return VERDICTS.indexOf(b.verdict) < VERDICTS.indexOf(a.verdict) ? b : a;
}

/**
 * A peer's sessions on `services` under one policy: opportunistic where TLS is optional, mandatory where it is
 * required (the worse of both when the peer used both kinds of service), then what the policy adds for every
 * session (TLS everywhere, a certificate check).
 */
function judgeUnderPolicy(
  p: PeerStats,
  policy: SectionPolicy,
  services: readonly string[],
  sectionCtx: Context,
  serviceMax?: { max: TlsProtocol | null; on: string },
): Judgement & { mandatory: boolean } {
  let ctx = policy === sectionCtx.policy ? sectionCtx : { ...sectionCtx, policy };
  if (serviceMax !== undefined) ctx = { ...ctx, sectionMax: serviceMax.max, maxOn: serviceMax.on };
  const isMandatory = (s: string) => policy.allMandatory || isMandatoryService(s, policy.mandatoryServices);
  const mandatoryUse = services.some(isMandatory);
  const optionalUse = services.length === 0 || services.some((s) => !isMandatory(s));
  let judgement: Judgement;
  if (mandatoryUse && optionalUse) {
    const opportunistic = judgeUnder(p, policy.opportunistic, ctx, false, services);
    const mandatory = judgeUnder(p, policy.mandatory, ctx, true, services);
    judgement = worse(opportunistic, mandatory);
    const optionalServices = services.filter((s) => !isMandatory(s)).join(', ');
    const requiredServices = services.filter(isMandatory).join(', ');
    judgement = {
      ...judgement,
      reason: `${judgement.reason} (it uses ${requiredServices}, where TLS is required, and ${optionalServices}, where it is optional: ${
        judgement === mandatory
          ? `there it is ${opportunistic.verdict}`
          : `with required TLS it is ${mandatory.verdict}`
      })`,
    };
  } else {
    judgement = judgeUnder(p, mandatoryUse ? policy.mandatory : policy.opportunistic, ctx, mandatoryUse, services);
  }
  if (policy.refusesPlaintext && p.plaintext > 0 && p.tls > 0)
    judgement = judgePlaintextUnderMandatory(p, judgement, ctx);
  if (
    policy.certificateCheck !== null &&
    ctx.certificates !== null &&
    p.tls > 0 &&
    (judgement.verdict === 'unaffected' || judgement.verdict === 'downgraded')
  ) {
    judgement = judgeCertificate(p, policy.certificateCheck, judgement, ctx.certificates);
  }
  return { ...judgement, mandatory: mandatoryUse };
}

/** The policies a service's sessions may be under: master.cf's for it (one, or several it cannot tell apart), else the section's. */
function policiesFor(service: string, section: SectionPolicy): readonly SectionPolicy[] {
  let byService = servicePolicyIndex.get(section);
  if (byService === undefined) {
    byService = new Map(section.services.map((s) => [s.service, s.policies]));
    byService.set(SECTION_OWN, [section]);
    servicePolicyIndex.set(section, byService);
  }
  return byService.get(service) ?? byService.get(SECTION_OWN)!;
}

/** The candidates of a service whose daemon has TLS settings of its own (SectionPolicy.otherDaemons). */
const OTHER_SETTINGS: readonly SectionPolicy[] = Object.freeze([]);

function otherSettingsOf(service: string, section: SectionPolicy) {
  const daemon = service.slice(service.lastIndexOf('/') + 1);
  return section.otherDaemons?.find((d) => d.daemon === daemon);
}

function hasOtherSettings(service: string, section: SectionPolicy): boolean {
  return otherSettingsOf(service, section) !== undefined;
}

/**
 * LMTP sessions under a main.cf's smtp_tls_* policy (a review: lmtp to Dovecot on 127.0.0.1:24 was "refused" under
 * smtp_tls_security_level = encrypt): Postfix's lmtp client reads lmtp_tls_* instead (by default no TLS), which
 * this what-if does not model. Where main.cf leaves them alone, plaintext LMTP stays as it is and LMTP with TLS
 * cannot be judged; where it sets them, nothing can.
 */
function judgeOtherSettings(
  p: PeerStats,
  services: readonly string[],
  set: string | null,
): Judgement & { mandatory: boolean } {
  const what = `Postfix's ${services.join(', ')} client reads lmtp_tls_* settings, not the smtp_tls_* ones this policy sets`;
  if (set !== null) {
    return {
      verdict: 'undetermined',
      certainty: 'likely',
      reason: `${what}, and main.cf sets ${set}, which this what-if does not model`,
      affectedSessions: 0,
      handshakes: [],
      mandatory: false,
    };
  }
  return p.tls === 0
    ? {
        verdict: 'unaffected',
        certainty: 'likely',
        reason: `${what}; it used no TLS here (${p.plaintext} plaintext session${p.plaintext === 1 ? '' : 's'})`,
        affectedSessions: 0,
        handshakes: [],
        mandatory: false,
      }
    : {
        verdict: 'undetermined',
        certainty: 'likely',
        reason: `${what}, which this what-if does not model (${p.tls} TLS sessions)`,
        affectedSessions: 0,
        handshakes: [],
        mandatory: false,
      };
}

/** policiesFor's index per section policy (asked per peer and service); SECTION_OWN keys the section's own. */
const servicePolicyIndex = new WeakMap<SectionPolicy, Map<string, readonly SectionPolicy[]>>();
const SECTION_OWN = '\0section';

/** Who a judgement under `policy` was for, in a reason: its master.cf scope, or the services main.cf governs. */
function scopeOf(policy: SectionPolicy, services: readonly string[]): string {
  return policy.scope ?? `${services.join(', ') || 'its sessions'} (main.cf's settings)`;
}

/**
 * With master.cf: the section's services in the log that no smtpd service or smtp transport of master.cf logs as
 * (judged under main.cf's settings), in a note: a changed configuration, another instance's log, or a daemon
 * with settings of its own (lmtp, tlsproxy).
 */
function servicesNotInMasterCfNote(sp: SectionPolicy, dir: DirectionView): string | null {
  if (sp.services.length === 0) return null;
  const unmatched = new Set<string>();
  for (const p of dir.peers.values()) {
    for (const service of p.services) {
      if (!hasOtherSettings(service, sp) && policiesFor(service, sp)[0] === sp) unmatched.add(service);
    }
  }
  if (unmatched.size === 0) return null;
  return `services in the log that no smtpd service or smtp transport of master.cf logs as, judged under main.cf's settings: ${[...unmatched].sort().join(', ')} (a changed master.cf, another instance's log, or a daemon with TLS settings of its own, such as tlsproxy)`;
}

/**
 * Sessions of services that several master.cf entries with different settings log alike: when the policies
 * disagree the log cannot say which one the peer met, so undetermined, with the worst case in the reason.
 */
function judgeAmbiguous(
  p: PeerStats,
  all: readonly SectionPolicy[],
  services: readonly string[],
  ctx: Context,
  serviceMax?: { max: TlsProtocol | null; on: string },
): Judgement & { mandatory: boolean; scope?: string } {
  // An entry that only talks over loopback served no remote peer: a content filter's way back in
  // (127.0.0.1:10025) and its transport out (content_filter = amavis:[127.0.0.1]:10024). A review: such a setup
  // made every peer undetermined under the very configuration that wrote the log. (Not "an entry with TLS off
  // carried no TLS session": that holds for the configuration that wrote the log, and a proposal may be the one
  // that turns TLS off.)
  const possible = all.filter((c) => !(c.loopbackOnly === true && !isLoopbackAddress(p.peer.ip)));
  const candidates = possible.length > 0 ? possible : all;
  if (candidates.length === 1) {
    const only = candidates[0]!;
    return { ...judgeUnderPolicy(p, only, services, ctx, serviceMax), scope: only.scope ?? services.join(', ') };
  }
  const judged = candidates.map((policy) => ({
    policy,
    j: judgeUnderPolicy(p, policy, services, ctx, serviceMax),
  }));
  if (judged.every((x) => x.j.verdict === judged[0]!.j.verdict)) return judged[0]!.j;
  const worst = judged.reduce((a, b) => (VERDICTS.indexOf(b.j.verdict) < VERDICTS.indexOf(a.j.verdict) ? b : a));
  return {
    ...worst.j,
    verdict: 'undetermined',
    certainty: 'likely',
    reason: `its ${services.join(', ')} sessions may have been under any of ${judged.map((x) => `${x.policy.scope}: ${x.j.verdict}`).join('; ')}, and the log does not say which; at worst (${worst.policy.scope}): ${worst.j.reason}`,
  };
}

/** 127.0.0.0/8 and ::1 (also IPv4-mapped): the only sources a listener on a loopback address can have. */
function isLoopbackAddress(ip: string): boolean {
  const v4 = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip;
  return /^127\./.test(v4) || ip === '::1';
}

/** The newest version each service's peers negotiated (its table's), worked out once per table. */
const serviceMaxCache = new WeakMap<PeerTable, TlsProtocol | null>();
function serviceMaxProtocol(table: PeerTable): TlsProtocol | null {
  if (serviceMaxCache.has(table)) return serviceMaxCache.get(table)!;
  let best: TlsProtocol | null = null;
  for (const p of table.values()) {
    for (const key of p.suites.keys()) {
      const protocol = key.slice(0, key.indexOf('|')) as TlsProtocol;
      if (!POLICY_PROTOCOLS.includes(protocol)) continue;
      if (best === null || protocolRank(protocol) > protocolRank(best)) best = protocol;
    }
  }
  serviceMaxCache.set(table, best);
  return best;
}

/** A part of a peer's sessions judged under its own policies: one service, or services alike. */
interface ServicePart {
  services: string[];
  candidates: readonly SectionPolicy[];
  /** The part's own counts (the service's peer table), or the whole peer's. */
  stats: PeerStats;
  /** With its own counts: the newest version its service negotiated with anyone. */
  serviceMax?: { max: TlsProtocol | null; on: string };
}

/**
 * A peer's services in parts judged apart: each service on its own when the census kept its peers per service,
 * else the services under the same policies together (with the whole peer's counts).
 */
function servicePartsOf(p: PeerStats, services: readonly string[], ctx: Context): ServicePart[] {
  const sp = ctx.policy;
  if (ctx.byService !== null && services.length > 0) {
    const tables = services.map((service) => ctx.byService!.get(service));
    // (One service: its counts are the peer's.)
    const own = services.length === 1 ? [p] : tables.map((t) => t?.get(p.peer.ip));
    if (own.every((x) => x !== undefined)) {
      return services.map((service, i) => ({
        services: [service],
        candidates: hasOtherSettings(service, sp) ? OTHER_SETTINGS : policiesFor(service, sp),
        stats: own[i]!,
        serviceMax: { max: tables[i] ? serviceMaxProtocol(tables[i]) : ctx.sectionMax, on: service },
      }));
    }
  }
  const parts = new Map<readonly SectionPolicy[], ServicePart>();
  for (const service of services.length > 0 ? services : ['']) {
    const candidates = hasOtherSettings(service, sp) ? OTHER_SETTINGS : policiesFor(service, sp);
    const part = parts.get(candidates);
    if (part === undefined) parts.set(candidates, { services: service === '' ? [] : [service], candidates, stats: p });
    else part.services.push(service);
  }
  return [...parts.values()];
}

function judgePeer(p: PeerStats, ctx: Context): PeerVerdict {
  const services = [...p.services].sort();
  const sp = ctx.policy;
  const parts = servicePartsOf(p, services, ctx);
  let judgement: Judgement & { mandatory: boolean };
  if (parts.length === 1 && sp.services.length === 0 && parts[0]!.candidates !== OTHER_SETTINGS) {
    judgement = judgeUnderPolicy(p, sp, services, ctx);
  } else {
    const apart = parts.length > 1 && parts[0]!.stats !== p;
    const judged = parts.map((part) => {
      const j: Judgement & { mandatory: boolean; scope?: string } =
        part.candidates === OTHER_SETTINGS
          ? judgeOtherSettings(part.stats, part.services, otherSettingsOf(part.services[0] ?? '', sp)?.set ?? null)
          : part.candidates.length === 1
            ? judgeUnderPolicy(part.stats, part.candidates[0]!, part.services, ctx, part.serviceMax)
            : judgeAmbiguous(part.stats, part.candidates, part.services, ctx, part.serviceMax);
      const label =
        sp.services.length === 0
          ? part.services.join(', ')
          : part.candidates.length === 1
            ? scopeOf(part.candidates[0]!, part.services)
            : (j.scope ?? part.services.join(', '));
      const handshakes = apart ? j.handshakes.map((h) => ({ ...h, service: part.services[0]! })) : j.handshakes;
      return { label, sessions: part.stats.sessions, j: { ...j, handshakes } };
    });
    // The worst verdict; of parts alike, the one with the most sessions speaks for them.
    const rank = (x: (typeof judged)[number]) => VERDICTS.indexOf(x.j.verdict);
    const worst = judged.reduce((a, b) =>
      rank(b) < rank(a) || (rank(b) === rank(a) && b.sessions > a.sessions) ? b : a,
    );
    const others = judged.filter((x) => x !== worst);
    judgement = {
      ...worst.j,
      mandatory: judged.some((x) => x.j.mandatory),
      // Each service's sessions are its own: the policy changes their sum. Judged together, the worst's.
      affectedSessions: apart ? judged.reduce((n, x) => n + x.j.affectedSessions, 0) : worst.j.affectedSessions,
      handshakes: apart ? judged.flatMap((x) => x.j.handshakes) : worst.j.handshakes,
      reason:
        others.length === 0
          ? `on ${worst.label}: ${worst.j.reason}`
          : `on ${worst.label}: ${worst.j.reason} (${others.map((x) => `on ${x.label} it is ${x.j.verdict}`).join('; ')})`,
    };
  }
  return {
    direction: ctx.section === 'outbound' ? 'outbound' : 'inbound',
    section: ctx.section,
    peer: {
      host: p.peer.host,
      ip: p.peer.ip,
      domain: domainOf(p.peer.host),
      ...(p.peer.nameLogged === false ? { nameLogged: false as const } : {}),
    },
    verdict: judgement.verdict,
    certainty: judgement.certainty,
    reason: judgement.reason,
    sessions: p.sessions,
    messages: p.messages,
    affectedSessions: judgement.affectedSessions,
    tls: p.tls,
    plaintext: p.plaintext,
    failed: p.failed,
    mandatory: judgement.mandatory,
    services,
    handshakes: judgement.handshakes.map(({ effective: _e, suite: _s, ...rest }) => rest),
  };
}

/** The newest version this side of the server negotiated with anyone (spread rows with a known protocol). */
export function sectionMaxProtocol(d: DirectionView): TlsProtocol | null {
  let best: TlsProtocol | null = null;
  for (const row of d.spread.values()) {
    if (row.count === 0 || row.protocol === 'unknown' || row.protocol === 'SSLv2') continue;
    const p = row.protocol as TlsProtocol;
    if (best === null || protocolRank(p) > protocolRank(best)) best = p;
  }
  return best;
}

export function emptySectionTotals(): SectionTotals {
  const zero = (): VerdictTotals => ({ peers: 0, sessions: 0, messages: 0, affectedSessions: 0 });
  return {
    refused: zero(),
    'loses-tls': zero(),
    downgraded: zero(),
    undetermined: zero(),
    unaffected: zero(),
  };
}

function settingsJson(s: TlsSettings): TlsSettingsJson {
  return {
    tls: s.unavailable === null,
    unavailable: s.unavailable,
    protocols: POLICY_PROTOCOLS.filter((p) => s.protocols.has(p)),
    ciphers: s.ciphers === null ? null : [...s.ciphers].sort(),
    securityLevel: s.securityLevel,
    summary: s.summary,
  };
}

export function policyJson(policy: WhatIfPolicy): WhatIfPolicyJson {
  const section = (s: SectionPolicy | null): SectionPolicyJson | null =>
    s === null
      ? null
      : {
          role: s.role,
          level: s.level,
          allMandatory: s.allMandatory,
          refusesPlaintext: s.refusesPlaintext,
          mandatoryServices: [...s.mandatoryServices],
          opportunistic: settingsJson(s.opportunistic),
          mandatory: settingsJson(s.mandatory),
          services: s.services.map((service) => ({
            service: service.service,
            masterCf: service.entries.map((e) => ({ ...e, overrides: [...e.overrides] })),
            policies: service.policies.map((p) => section(p)!),
          })),
          scope: s.scope,
          notes: [...s.notes],
        };
  return {
    source: policy.source,
    description: policy.description,
    openssl: policy.library,
    inbound: section(policy.inbound),
    outbound: section(policy.outbound),
    mailbox: section(policy.mailbox),
    notes: [...policy.notes],
  };
}

function comparePeerVerdicts(a: PeerVerdict, b: PeerVerdict): number {
  return (
    VERDICTS.indexOf(a.verdict) - VERDICTS.indexOf(b.verdict) ||
    WHATIF_SECTIONS.indexOf(a.section) - WHATIF_SECTIONS.indexOf(b.section) ||
    (a.certainty === b.certainty ? 0 : a.certainty === 'certain' ? -1 : 1) ||
    b.messages - a.messages ||
    b.sessions - a.sessions ||
    (a.peer.ip < b.peer.ip ? -1 : a.peer.ip > b.peer.ip ? 1 : 0)
  );
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Judges every peer of the sections the policy covers, each handed to `visit`: the totals per section, and the
 * note on certificates per section that has one (certificateNote).
 */
function judgeAll(
  view: CensusView,
  policy: WhatIfPolicy,
  visit: (v: PeerVerdict) => void,
): {
  totals: Partial<Record<WhatIfSection, SectionTotals>>;
  notes: Partial<Record<WhatIfSection, string[]>>;
} {
  const totals: Partial<Record<WhatIfSection, SectionTotals>> = {};
  const notes: Partial<Record<WhatIfSection, string[]>> = {};
  for (const section of WHATIF_SECTIONS) {
    const sp = policy[section];
    if (sp === null) continue;
    const dir = view[section];
    // The section's own check, else the first a master.cf service adds (`-o smtpd_tls_req_ccert=yes`).
    const check =
      [sp, ...sp.services.flatMap((s) => s.policies)].find((x) => x.certificateCheck !== null)?.certificateCheck ??
      null;
    const ctx: Context = {
      section,
      policy: sp,
      sectionMax: sectionMaxProtocol(dir),
      maxOn: null,
      certificates: check === null ? null : sectionCertificates(dir),
      byService: dir.byService,
    };
    const sectionNotes = [
      check && ctx.certificates ? certificateNote(check, ctx.certificates) : null,
      servicesNotInMasterCfNote(sp, dir),
    ].filter((n) => n !== null);
    if (sectionNotes.length > 0) notes[section] = sectionNotes;
    const t = emptySectionTotals();
    for (const stats of dir.peers.values()) {
      const v = judgePeer(stats, ctx);
      visit(v);
      const row = t[v.verdict];
      row.peers++;
      row.sessions += v.sessions;
      row.messages += v.messages;
      row.affectedSessions += v.affectedSessions;
    }
    totals[section] = t;
  }
  return { totals, notes };
}

/** Judges every peer of every section the policy covers. Pure and deterministic. */
export function evaluateWhatIf(view: CensusView, policy: WhatIfPolicy): WhatIfResult {
  const peers: PeerVerdict[] = [];
  const { totals, notes } = judgeAll(view, policy, (v) => peers.push(v));
  peers.sort(comparePeerVerdicts);
  const json = policyJson(policy);
  for (const section of WHATIF_SECTIONS) json[section]?.notes.push(...(notes[section] ?? []));
  return {
    schema: WHATIF_SCHEMA,
    window: { first: iso(view.firstMs), last: iso(view.lastMs) },
    policy: json,
    peers,
    totals,
  };
}

/** Why a section's certificate verdicts read as they do, when the log or main.cf says it for all of them. */
function certificateNote(check: CertificateCheck, seen: SectionCertificates): string | null {
  if (check.level === 'fingerprint' || check.level === 'dane-only') return null;
  const client = check.level === 'client';
  if (check.anchors.length === 0) {
    return `main.cf gives no trust anchors for this check, so no certificate would verify and every TLS peer is refused; set ${client ? 'smtpd_tls_CAfile' : 'smtp_tls_CAfile (e.g. /etc/ssl/certs/ca-certificates.crt) or smtp_tls_CApath'}, or give the whole main.cf if they are set`;
  }
  if (client && seen.askedServices.size === 0) {
    return 'no client showed a certificate in this log: it was probably written with smtpd_tls_ask_ccert = no, so it cannot say which clients have one (most SMTP clients have none)';
  }
  if (seen.anchoredSinceMs !== null || seen.untrustedPeers === 0) return null;
  return client
    ? `no client certificate verified in this log (${seen.untrustedPeers} clients showed "Untrusted"): it was probably written without trust anchors (for Postfix: smtpd_tls_CAfile and smtpd_tls_CApath empty), so "Untrusted" says little and those clients are undetermined`
    : `no server's certificate verified against trust anchors in this log (${seen.untrustedPeers} showed "Untrusted"): it was probably written without them (for Postfix: smtp_tls_CAfile and smtp_tls_CApath empty), so "Untrusted" says little and those servers are undetermined`;
}

// ------------------------------------------------------------------------------------------------- summaries

export interface WhatIfSummaryPeer {
  section: WhatIfSection;
  peer: PeerVerdict['peer'];
  verdict: Verdict;
  certainty: Certainty;
  reason: string;
  sessions: number;
  messages: number;
}

export interface WhatIfSummary {
  id: string;
  title: string;
  description: string;
  totals: Partial<Record<WhatIfSection, SectionTotals>>;
  /**
   * The peers it affects most (refused, loses-tls, downgraded), worst first, then those it cannot judge
   * (undetermined) if there is room: as `whatif` lists every peer but the unaffected ones.
   */
  affected: WhatIfSummaryPeer[];
}

/** What a few common policies (no SSLv3, minimum TLS 1.2, Mozilla intermediate, no weak ciphers) would do. */
export function summarizeCommonPolicies(
  view: CensusView,
  options: { top?: number; presets?: readonly PolicyPreset[] } = {},
): WhatIfSummary[] {
  const top = options.top ?? 5;
  return (options.presets ?? POLICY_PRESETS).map((preset) => {
    const policy = presetPolicy(preset);
    // The `top` first affected verdicts in evaluateWhatIf's order, kept as they come instead of sorting every
    // peer's verdict (half a million peers, several presets: the HTML report took 29 s and 1.4 GiB).
    const first: PeerVerdict[] = [];
    const { totals } = judgeAll(view, policy, (v) => {
      if (v.verdict === 'unaffected') return;
      if (first.length === top && comparePeerVerdicts(v, first[top - 1]!) >= 0) return;
      let at = first.length;
      while (at > 0 && comparePeerVerdicts(v, first[at - 1]!) < 0) at--;
      first.splice(at, 0, v);
      if (first.length > top) first.pop();
    });
    return {
      id: preset.id,
      title: preset.title,
      description: policy.description,
      totals,
      affected: first.map((p) => ({
        section: p.section,
        peer: { ...p.peer },
        verdict: p.verdict,
        certainty: p.certainty,
        reason: p.reason,
        sessions: p.sessions,
        messages: p.messages,
      })),
    };
  });
}
