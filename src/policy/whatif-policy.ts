// The policy a what-if evaluates: per section (inbound SMTP, outbound SMTP, IMAP/POP3), the protocol versions and
// TLS ≤ 1.2 suites that opportunistic and mandatory TLS would allow, and which sessions use which. Built from
// command-line flags, from a Postfix main.cf (via postfix-tls-policy.ts), or from a named preset.
//
// Two models of the TLS library (`--openssl`):
//   - `current` (default): the library the logs were written with. Only the policy restricts; whatever the logs
//     show negotiated is taken as something the library can do (a server that logged SSLv3 has SSLv3). Cipher
//     strings are evaluated over every suite OpenSSL 1.1+ can build (weak ciphers, IDEA and the legacy provider
//     included), so `medium` still contains RC4 as it did on the servers that negotiated it. A security level the
//     policy itself sets (`@SECLEVEL=n` in its cipher string, Postfix's level 1 where it authenticates the peer)
//     applies with the checks every OpenSSL since 1.1.0 makes (versions, suites), not 3.0's SHA-1 signature rule.
//   - `3.0`: Debian 12's OpenSSL 3.0 (no SSLv3, no RC4/3DES; at security level ≥ 1 a server cannot complete
//     TLS 1.0/1.1 at all, a client only with RSA key transport or PSK; see openssl-security-level.ts): what the
//     same policy gives after upgrading to it. Postfix runs OpenSSL at level 0 whatever the library's default
//     (postfix-tls-policy.ts postfixSecurityLevel), so TLS 1.0/1.1 keep working unless the cipher list says
//     `@SECLEVEL=n` or the peer is authenticated (level 1). Dovecot (the mailbox section) leaves the level alone:
//     Debian's default, 2.
// Either way an OpenSSL client offers only the lowest contiguous block of its enabled versions
// (postfix-protocols.ts negotiableProtocols), so `!TLSv1.1` on the client side also drops TLS 1.2 and 1.3.

import { normaliseProtocol } from '../ciphers/lookup.js';
import { CIPHER_SUITES, type CipherSuite } from '../ciphers/suites.generated.js';
import { CensusError } from '../model/errors.js';
import { serviceMatches } from '../model/types.js';
import { type MainCf, resolveParameter } from './main-cf.js';
import {
  censusServiceName,
  isLoopbackHost,
  isServiceDisabled,
  listensOnLoopback,
  type MasterCf,
  type MasterCfService,
  serviceMainCf,
  serviceProgram,
} from './master-cf.js';
import { evaluateOpensslCipherString, OPENSSL_3_0_DEBIAN, type OpensslBuild } from './openssl-cipher-string.js';
import {
  DEBIAN_SECURITY_LEVEL,
  filterCiphersBySecurityLevel,
  isProtocolPermittedAtSecurityLevel,
  type SecurityLevelRules,
} from './openssl-security-level.js';
import { negotiableProtocols, OPENSSL_3_0_PROTOCOLS, TLS_PROTOCOLS, type TlsProtocol } from './postfix-protocols.js';
import {
  derivePostfixTlsPolicies,
  isPostfixYes,
  POSTFIX_BASE_SECURITY_LEVEL,
  type PostfixTlsPolicy,
  type PostfixTlsSettings,
  type SecurityLevelOrigin,
  type TlsPolicyOptions,
  trustAnchors,
} from './postfix-tls-policy.js';

export type LibraryModel = 'current' | '3.0';
export type WhatIfSection = 'inbound' | 'outbound' | 'mailbox';
export const WHATIF_SECTIONS: readonly WhatIfSection[] = ['inbound', 'outbound', 'mailbox'];

/** Every suite an OpenSSL 1.1+ build can have: the `current` model's cipher universe. */
export const OPENSSL_SUPERSET: OpensslBuild = { weakSslCiphers: true, idea: true, legacyProvider: true };

/** Versions a policy can name, oldest first (SSLv2 is gone from every library that logs anything today). */
export const POLICY_PROTOCOLS: readonly TlsProtocol[] = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export function protocolRank(p: TlsProtocol): number {
  return TLS_PROTOCOLS.indexOf(p);
}

/** One set of TLS settings: opportunistic or mandatory. */
export interface TlsSettings {
  /** Versions that can be negotiated in this role (server: accepted; client: offered). */
  readonly protocols: ReadonlySet<TlsProtocol>;
  /** TLS ≤ 1.2 suites allowed, by suiteName(); null when the policy leaves ciphers as they are. TLS 1.3 suites are never restricted here. */
  readonly ciphers: ReadonlySet<string> | null;
  /**
   * OpenSSL security level checked per handshake; null when nothing sets one (`current` model: the library as the
   * logs show it).
   */
  readonly securityLevel: number | null;
  /** Which of the level's checks apply: `3.0` in the 3.0 model, else those of every OpenSSL since 1.1.0. */
  readonly securityLevelRules: SecurityLevelRules;
  /** Why no TLS is possible at all with these settings (invalid list, TLS off); null when TLS works. */
  readonly unavailable: string | null;
  /** One line for humans: "TLSv1.2–TLSv1.3, 24 suites (high)". */
  readonly summary: string;
}

export interface SectionPolicy {
  /** Our side: server (inbound, mailbox) or client (outbound). */
  readonly role: 'server' | 'client';
  /** Where TLS is optional (port 25, outbound `may`). */
  readonly opportunistic: TlsSettings;
  /** Where TLS is required (submission, smtps, `encrypt` and up). */
  readonly mandatory: TlsSettings;
  /** Every session of this section requires TLS (smtpd or smtp level `encrypt` in main.cf; IMAP/POP3). */
  readonly allMandatory: boolean;
  /**
   * The policy itself requires TLS of every session (main.cf level `encrypt` and up): peers that never used TLS
   * are refused. IMAP/POP3 count as mandatory without this (the policy does not change how plaintext is treated).
   */
  readonly refusesPlaintext: boolean;
  /** Services whose sessions require TLS (`submission` matches Postfix's `submission/smtpd`). */
  readonly mandatoryServices: readonly string[];
  /** The Postfix security level the policy came from, when it came from main.cf. */
  readonly level: string | null;
  /**
   * What every TLS session of the section would also need of the peer's certificate (smtp levels fingerprint,
   * verify, secure, dane-only; smtpd_tls_req_ccert with encrypt), or null. What-if judges it from what the peer's
   * handshakes showed of its certificate (a review: real Postfix deferred an "Untrusted" server at verify).
   */
  readonly certificateCheck: CertificateCheck | null;
  /**
   * The services master.cf defines for this section, each with its own settings (main.cf with the service's `-o`
   * overrides); empty without master.cf. A session of a service not listed is judged under this policy.
   */
  readonly services: readonly ServicePolicy[];
  /** A service's policy: the sessions it governs, in words ("submission/smtpd (master.cf submission)"); else null. */
  readonly scope: string | null;
  /**
   * A service's policy whose master.cf entries all talk over loopback only: they listen on a loopback address
   * (`127.0.0.1:10025`, a content filter's way back), or are transports that main.cf or master.cf name as a
   * content filter with a loopback next hop (`content_filter = amavis:[127.0.0.1]:10024`). No remote peer can
   * have been theirs.
   */
  readonly loopbackOnly?: boolean;
  /**
   * Daemons whose sessions this section has but whose TLS settings are not the ones it was made from: `lmtp`
   * (lmtp_tls_*) under a main.cf's outbound smtp_tls_* policy; `set`: what main.cf sets of their level, if any.
   */
  readonly otherDaemons?: readonly { readonly daemon: string; readonly set: string | null }[];
  readonly notes: readonly string[];
}

/** What master.cf sets for the sessions of one service as the log names it (master-cf.ts). */
export interface ServicePolicy {
  /** As the census names it: `submission/smtpd`, `smtpd`, `relay/smtp`. */
  readonly service: string;
  /** The master.cf entries whose daemons log as it; usually one. */
  readonly entries: readonly ServiceEntry[];
  /**
   * One policy per distinct configuration among the entries: more than one when several entries with different
   * settings log alike (smtp transports without their own syslog_name), and the log cannot say which one ran.
   */
  readonly policies: readonly SectionPolicy[];
}

export interface ServiceEntry {
  /** `submission`, `127.0.0.1:10025`, `relay`. */
  readonly name: string;
  readonly type: string;
  readonly line: number;
  /** Its `-o` overrides of TLS settings and of syslog_name, as written (`smtpd_tls_security_level=encrypt`). */
  readonly overrides: readonly string[];
}

/** A check of the peer's certificate that a policy adds to TLS (postconf(5), TLS_README). */
export interface CertificateCheck {
  /** The smtp level, or `client` for smtpd_tls_req_ccert. */
  readonly level: 'fingerprint' | 'verify' | 'secure' | 'dane-only' | 'client';
  /** What it requires, in words naming the setting. */
  readonly requirement: string;
  /** The trust anchors main.cf gives (`parameter = value`); none: no certificate can verify (trustAnchors). */
  readonly anchors: readonly string[];
}

export interface WhatIfPolicy {
  readonly source: 'flags' | 'main.cf' | 'preset';
  /** What was asked for, e.g. `--min-protocol TLSv1.2` or `main.cf /etc/postfix/main.cf`. */
  readonly description: string;
  readonly library: LibraryModel;
  /** Null: the section is not evaluated (not asked for, or not governed by this policy). */
  readonly inbound: SectionPolicy | null;
  readonly outbound: SectionPolicy | null;
  readonly mailbox: SectionPolicy | null;
  readonly notes: readonly string[];
}

/** Submission (587), submissions/smtps (465): the usual master.cf services that set `encrypt` or wrapper mode. */
export const DEFAULT_MANDATORY_SERVICES: readonly string[] = ['submission', 'submissions', 'smtps'];

/** The key of a suite in `TlsSettings.ciphers`: its IANA name, else its OpenSSL name. */
export function suiteName(suite: CipherSuite): string {
  return suite.iana ?? suite.openssl ?? suite.code;
}

/** Whether a session of `service` requires TLS: the service or its Postfix instance name is listed. */
export function isMandatoryService(service: string, mandatoryServices: readonly string[]): boolean {
  // Postfix `submission/smtpd`, `postfix-out/submission/smtpd`: the part before the daemon names the service.
  let names = mandatorySets.get(mandatoryServices);
  if (names === undefined) {
    names = new Set(mandatoryServices);
    mandatorySets.set(mandatoryServices, names);
  }
  return serviceMatches(service, names);
}

/** The lists as sets, made once per list (this is asked per peer and service). */
const mandatorySets = new WeakMap<readonly string[], ReadonlySet<string>>();

function range(protocols: ReadonlySet<TlsProtocol>): string {
  const list = POLICY_PROTOCOLS.filter((p) => protocols.has(p));
  if (list.length === 0) return 'no protocol';
  const first = list[0]!;
  const last = list.at(-1)!;
  const contiguous = protocolRank(last) - protocolRank(first) + 1 === list.length;
  return contiguous ? (first === last ? first : `${first}–${last}`) : list.join(', ');
}

function summarise(protocols: ReadonlySet<TlsProtocol>, ciphers: ReadonlySet<string> | null, what: string): string {
  const suites = ciphers === null ? 'ciphers unchanged' : `${ciphers.size} TLS ≤ 1.2 suites`;
  return `${range(protocols)}, ${suites}${what ? ` (${what})` : ''}`;
}

function unavailable(reason: string): TlsSettings {
  return {
    protocols: new Set(),
    ciphers: new Set(),
    securityLevel: null,
    securityLevelRules: '3.0',
    unavailable: reason,
    summary: `no TLS: ${reason}`,
  };
}

/**
 * Applies the library model to what a policy enables: the client's contiguous block always; the security level's
 * version check when there is a level; with `3.0` also no SSLv3, and no TLS 1.0/1.1 on the server side at
 * level ≥ 1.
 */
export function effectiveProtocols(
  enabled: ReadonlySet<TlsProtocol>,
  role: 'server' | 'client',
  library: LibraryModel,
  securityLevel: number | null,
): Set<TlsProtocol> {
  const level = securityLevel;
  const permitted = new Set(
    [...enabled].filter((p) => p !== 'SSLv2' && (level === null || isProtocolPermittedAtSecurityLevel(p, level))),
  );
  const support = library === '3.0' ? OPENSSL_3_0_PROTOCOLS : { sslv3: true };
  const block = negotiableProtocols(permitted, role, support);
  if (library === '3.0' && level !== null && level >= 1 && role === 'server') {
    // A server cannot sign a TLS < 1.2 handshake at level ≥ 1 (openssl-security-level.ts canCompleteHandshake).
    for (const p of ['SSLv3', 'TLSv1', 'TLSv1.1'] as const) block.delete(p);
  }
  return block;
}

// ------------------------------------------------------------------------------------------------- flags

export interface PolicyFlags {
  readonly minProtocol?: string | undefined;
  readonly excludeProtocols?: string | undefined;
  readonly ciphers?: string | undefined;
  readonly library: LibraryModel;
  /** Null: DEFAULT_MANDATORY_SERVICES. */
  readonly mandatoryServices?: readonly string[] | null;
  /** Sections the policy applies to (from --direction); the others are not evaluated. */
  readonly sections: readonly WhatIfSection[];
}

/** `TLSv1.2`, `tlsv1.2`, `TLS1.2`, `TLSv1.0` … → the protocol; a CensusError (exit 2) otherwise. */
export function parseProtocolName(flag: string, text: string): TlsProtocol {
  const p = normaliseProtocol(text.trim());
  if (p === 'unknown') {
    throw new CensusError('bad-protocol', `${flag}: unknown protocol "${text}"`, {
      hint: 'use SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3 (SSLv2 only with --exclude-protocols)',
    });
  }
  if (p === 'SSLv2' && flag === '--min-protocol') {
    throw new CensusError('bad-protocol', `${flag}: SSLv2 cannot be a minimum (no library negotiates it any more)`, {
      hint: 'use SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3',
    });
  }
  return p;
}

export interface EvaluatedCipherFlag {
  readonly ciphers: Set<string>;
  /** The same suites, in OpenSSL's order. */
  readonly suites: readonly CipherSuite[];
  readonly securityLevel: number | null;
  readonly notes: string[];
}

/** Evaluates `--ciphers`; an OpenSSL rejection is a usage error (exit 2) worded as OpenSSL would. */
export function evaluateCipherFlag(spec: string, library: LibraryModel): EvaluatedCipherFlag {
  const result = evaluateOpensslCipherString(spec, {
    build: library === '3.0' ? OPENSSL_3_0_DEBIAN : OPENSSL_SUPERSET,
  });
  if (result.error !== null) {
    throw new CensusError('bad-ciphers', `--ciphers ${JSON.stringify(spec)}: OpenSSL rejects it: ${result.error}`, {
      hint: `OpenSSL's own words: "Error in cipher list"; check it with: openssl ciphers -v '${spec.replace(/'/g, '')}'`,
    });
  }
  return {
    ciphers: new Set(result.ciphers.map(suiteName)),
    suites: result.ciphers,
    securityLevel: result.securityLevel,
    notes: result.warnings.map((w) => `--ciphers: ${w}`),
  };
}

/** The policy of `--min-protocol`, `--exclude-protocols` and `--ciphers`, the same for opportunistic and mandatory. */
export function policyFromFlags(flags: PolicyFlags): WhatIfPolicy {
  const min = flags.minProtocol !== undefined ? parseProtocolName('--min-protocol', flags.minProtocol) : null;
  const excluded = (flags.excludeProtocols ?? '')
    .split(/[,:\s]+/)
    .filter((t) => t !== '')
    .map((t) => parseProtocolName('--exclude-protocols', t.replace(/^!/, '')));
  const enabled = new Set(
    POLICY_PROTOCOLS.filter((p) => (min === null || protocolRank(p) >= protocolRank(min)) && !excluded.includes(p)),
  );
  if (enabled.size === 0) {
    throw new CensusError('no-protocol', 'the protocol flags leave no protocol version enabled', {
      hint: 'e.g. --min-protocol TLSv1.2, or exclude fewer versions',
    });
  }
  const cipherFlag = flags.ciphers !== undefined ? evaluateCipherFlag(flags.ciphers, flags.library) : null;
  const parts: string[] = [];
  if (min) parts.push(`--min-protocol ${min}`);
  if (excluded.length > 0) parts.push(`--exclude-protocols ${excluded.join(',')}`);
  if (flags.ciphers !== undefined) parts.push(`--ciphers '${flags.ciphers}'`);
  const notes = [...(cipherFlag?.notes ?? [])];
  const mandatoryServices = flags.mandatoryServices ?? DEFAULT_MANDATORY_SERVICES;
  const section = (name: WhatIfSection): SectionPolicy | null => {
    if (!flags.sections.includes(name)) return null;
    const role = name === 'outbound' ? 'client' : 'server';
    // The level the daemon runs at without @SECLEVEL: Postfix sets 0 itself; Dovecot keeps the library's default.
    const baseLevel =
      name === 'mailbox'
        ? { level: DEBIAN_SECURITY_LEVEL, why: "Debian's default, which Dovecot keeps" }
        : { level: POSTFIX_BASE_SECURITY_LEVEL, why: 'as Postfix sets it' };
    const settings = flagSettings(enabled, cipherFlag, role, flags.library, baseLevel);
    const sectionNotes: string[] = [];
    const asked = range(enabled);
    const got = range(settings.protocols);
    if (asked !== got) {
      sectionNotes.push(
        role === 'client'
          ? `as a client, OpenSSL offers only ${got} of ${asked}${flags.library === '3.0' ? ' (OpenSSL 3.0: no SSLv3, security level, lowest contiguous block)' : settings.securityLevel !== null ? ` (security level ${settings.securityLevel}, lowest contiguous block)` : ' (the lowest contiguous block of enabled versions)'}`
          : `as a server, OpenSSL${flags.library === '3.0' ? ' 3.0' : ''} can negotiate only ${got} of ${asked}${settings.securityLevel !== null ? ` (security level ${settings.securityLevel})` : ''}`,
      );
    }
    const sha1 = sha1SignatureNote(flags.library, settings);
    if (sha1 !== null) sectionNotes.push(sha1);
    if (name === 'mailbox') {
      sectionNotes.push(
        'IMAP/POP3 count as mandatory TLS: Dovecot refuses plaintext logins by default (disable_plaintext_auth = yes, 2.4: auth_allow_cleartext = no) except from trusted networks',
      );
    }
    return {
      role,
      opportunistic: settings,
      mandatory: settings,
      allMandatory: name === 'mailbox',
      refusesPlaintext: false,
      mandatoryServices: name === 'inbound' ? mandatoryServices : [],
      level: null,
      certificateCheck: null,
      services: [],
      scope: null,
      notes: sectionNotes,
    };
  };
  return {
    source: 'flags',
    description: parts.join(' '),
    library: flags.library,
    inbound: section('inbound'),
    outbound: section('outbound'),
    mailbox: section('mailbox'),
    notes,
  };
}

function flagSettings(
  enabled: ReadonlySet<TlsProtocol>,
  cipherFlag: EvaluatedCipherFlag | null,
  role: 'server' | 'client',
  library: LibraryModel,
  base: { readonly level: number; readonly why: string },
): TlsSettings {
  // An @SECLEVEL in --ciphers is part of the policy: it restricts in either model.
  const explicit = cipherFlag?.securityLevel ?? null;
  const securityLevel = library === '3.0' ? (explicit ?? base.level) : explicit;
  const protocols = effectiveProtocols(enabled, role, library, securityLevel);
  // With the 3.0 model an unrestricted cipher list still means "what OpenSSL 3.0 has".
  const suites = cipherFlag?.suites ?? (library === '3.0' ? libraryUniverse(OPENSSL_3_0_DEBIAN) : null);
  const ciphers =
    suites === null
      ? null
      : securityLevel === null
        ? (cipherFlag?.ciphers ?? new Set(suites.map(suiteName)))
        : new Set(filterCiphersBySecurityLevel(suites, securityLevel).map(suiteName));
  if (protocols.size === 0) return unavailable(`no protocol version of ${range(enabled)} can be negotiated`);
  const what =
    library === '3.0'
      ? `OpenSSL 3.0, security level ${securityLevel}: ${explicit !== null ? '@SECLEVEL in --ciphers' : base.why}`
      : explicit !== null
        ? `security level ${explicit}: @SECLEVEL in --ciphers`
        : '';
  return {
    protocols,
    ciphers,
    securityLevel,
    securityLevelRules: library === '3.0' ? '3.0' : '1.1',
    unavailable: null,
    summary: summarise(protocols, ciphers, what),
  };
}

/**
 * In the `current` model a level ≥ 1 is checked as OpenSSL 1.1 does; OpenSSL 3.0 would also refuse what needs a
 * SHA-1 signature (TLS < 1.2 as a server): worth saying, since the library the logs came from may be 3.0.
 */
function sha1SignatureNote(library: LibraryModel, ...settings: TlsSettings[]): string | null {
  if (library === '3.0') return null;
  const levels = settings.map((s) => s.securityLevel).filter((l): l is number => l !== null && l >= 1);
  if (levels.length === 0) return null;
  return `at security level ${Math.min(...levels)} OpenSSL 3.0 also refuses TLS 1.0/1.1 as a server, and as a client with signed key exchange (SHA-1 signatures): --openssl 3.0 shows that`;
}

let universes: Map<OpensslBuild, CipherSuite[]> | undefined;
function libraryUniverse(build: OpensslBuild): CipherSuite[] {
  universes ??= new Map();
  let u = universes.get(build);
  if (!u) {
    u = evaluateOpensslCipherString('ALL:COMPLEMENTOFALL', { build }).ciphers;
    universes.set(build, u);
  }
  return u;
}

// ------------------------------------------------------------------------------------------------- main.cf

export interface MainCfPolicyOptions {
  readonly library: LibraryModel;
  readonly mandatoryServices?: readonly string[] | null;
  readonly sections?: readonly WhatIfSection[];
  /** Shown in the description. */
  readonly file?: string;
  /** The services' `-o` overrides: each smtpd service and smtp transport judged under its own settings. */
  readonly masterCf?: MasterCf | null;
}

const LEVEL_PARAMETER = { inbound: 'smtpd_tls_security_level', outbound: 'smtp_tls_security_level' } as const;

/** The policy a main.cf (or `postconf -n` output) gives smtpd (inbound) and smtp (outbound). */
export function policyFromMainCf(cf: MainCf, options: MainCfPolicyOptions): WhatIfPolicy {
  const tlsOptions: TlsPolicyOptions = { build: options.library === '3.0' ? OPENSSL_3_0_DEBIAN : OPENSSL_SUPERSET };
  const policies = derivePostfixTlsPolicies(cf, tlsOptions);
  const sections = options.sections ?? WHATIF_SECTIONS;
  const mandatoryServices = options.mandatoryServices ?? DEFAULT_MANDATORY_SERVICES;
  const notes: string[] = [];
  if (sections.includes('mailbox')) {
    notes.push(
      'IMAP/POP3 sessions are not evaluated: main.cf does not govern Dovecot (ssl_min_protocol, ssl_cipher_list)',
    );
  }
  const master = options.masterCf ?? null;
  const section = (direction: 'inbound' | 'outbound'): SectionPolicy => {
    const own = sectionFromPostfix(
      policies[direction],
      cf,
      options.library,
      direction === 'inbound' ? mandatoryServices : [],
    );
    const withLmtp =
      direction === 'outbound' ? { ...own, otherDaemons: [{ daemon: 'lmtp', set: lmtpLevel(cf) }] } : own;
    if (master === null) return withLmtp;
    return {
      ...withLmtp,
      services: servicePolicies(cf, master, direction, options.library, tlsOptions, own.notes),
    };
  };
  const inbound = sections.includes('inbound') ? section('inbound') : null;
  const outbound = sections.includes('outbound') ? section('outbound') : null;
  if (master === null) {
    notes.push(
      'no master.cf read (--master-cf FILE, or the master.cf beside a file named main.cf): services listed as mandatory use the *_mandatory_* settings; smtp_tls_policy_maps is not read',
    );
  } else {
    notes.push(...masterCfNotes(master, inbound, outbound));
  }
  return {
    source: 'main.cf',
    description:
      `main.cf ${options.file ?? cf.source ?? ''}${master !== null ? ` with master.cf ${master.source ?? ''}` : ''}`.trim(),
    library: options.library,
    inbound,
    outbound,
    mailbox: null,
    notes,
  };
}

/** What main.cf sets of the lmtp client's TLS level (postconf(5): lmtp_tls_security_level, else the obsolete booleans). */
function lmtpLevel(cf: MainCf): string | null {
  const set = ['lmtp_tls_security_level', 'lmtp_use_tls', 'lmtp_enforce_tls'].filter((n) => cf.parameters.has(n));
  return set.length === 0 ? null : set.map((n) => `${n} = ${resolveParameter(cf, n).expanded}`).join(', ');
}

/** The daemon whose master.cf services make a section's sessions. */
const SECTION_DAEMON = { inbound: 'smtpd', outbound: 'smtp' } as const;

/** The `-o` overrides a service's policy shows: TLS settings and the name it logs as. */
const SHOWN_OVERRIDE = /tls|^syslog_name$/;

/**
 * A section's master.cf services (smtpd for inbound, smtp transports for outbound), grouped by the service name
 * their sessions are logged under, each distinct configuration among a group's entries one policy. `sectionNotes`
 * (the section's own) are not repeated in the services' policies.
 */
function servicePolicies(
  cf: MainCf,
  master: MasterCf,
  direction: 'inbound' | 'outbound',
  library: LibraryModel,
  tlsOptions: TlsPolicyOptions,
  sectionNotes: readonly string[],
): ServicePolicy[] {
  interface Configuration {
    effective: MainCf;
    entries: MasterCfService[];
  }
  const groups = new Map<string, { entries: ServiceEntry[]; configurations: Map<string, Configuration> }>();
  const loopbackFilters = direction === 'outbound' ? loopbackContentFilters(cf, master) : new Set<string>();
  for (const entry of master.services) {
    if (entry.command !== SECTION_DAEMON[direction] || isServiceDisabled(cf, entry)) continue;
    const effective = serviceMainCf(cf, entry);
    const service = censusServiceName(serviceProgram(effective, entry));
    let group = groups.get(service);
    if (group === undefined) {
      group = { entries: [], configurations: new Map() };
      groups.set(service, group);
    }
    group.entries.push({
      name: entry.name,
      type: entry.type,
      line: entry.line,
      overrides: entry.overrides.filter((o) => SHOWN_OVERRIDE.test(o.name)).map((o) => `${o.name}=${o.value}`),
    });
    const probe = sectionFromPostfix(
      derivePostfixTlsPolicies(effective, tlsOptions)[direction],
      effective,
      library,
      [],
    );
    const signature = policySignature(probe);
    const same = group.configurations.get(signature);
    if (same) same.entries.push(entry);
    else group.configurations.set(signature, { effective, entries: [entry] });
  }
  return [...groups].map(([service, group]) => ({
    service,
    entries: group.entries,
    policies: [...group.configurations.values()].map(({ effective, entries }) => {
      const scope = `${service} (master.cf ${entries.map((e) => e.name).join(', ')})`;
      const sp = sectionFromPostfix(
        derivePostfixTlsPolicies(effective, tlsOptions)[direction],
        effective,
        library,
        [],
        scope,
      );
      return {
        ...sp,
        loopbackOnly: entries.every((e) =>
          direction === 'inbound' ? listensOnLoopback(e) : loopbackFilters.has(e.name),
        ),
        notes: sp.notes.filter((n) => !sectionNotes.includes(n)),
      };
    }),
  }));
}

/**
 * Transports named as a content filter with a loopback next hop, in main.cf or an entry's `-o content_filter=`
 * (postconf(5) content_filter: `transport:destination`, e.g. `amavis:[127.0.0.1]:10024`).
 */
function loopbackContentFilters(cf: MainCf, master: MasterCf): Set<string> {
  const out = new Set<string>();
  const add = (value: string) => {
    const m = /^\s*([^:\s]+):(\[[^\]]*\]|[^:\s]+)/.exec(value);
    if (m && isLoopbackHost(m[2]!)) out.add(m[1]!);
  };
  add(resolveParameter(cf, 'content_filter').expanded);
  for (const entry of master.services) {
    if (entry.overrides.some((o) => o.name === 'content_filter')) {
      add(serviceMainCf(cf, entry).parameters.get('content_filter')?.expanded ?? '');
    }
  }
  return out;
}

/** What makes two policies judge alike: their settings, level, mandatory TLS and certificate check. */
function policySignature(sp: SectionPolicy): string {
  const settings = (t: TlsSettings) => ({
    protocols: [...t.protocols].sort(),
    ciphers: t.ciphers === null ? null : [...t.ciphers].sort(),
    securityLevel: t.securityLevel,
    unavailable: t.unavailable,
  });
  return JSON.stringify([
    settings(sp.opportunistic),
    settings(sp.mandatory),
    sp.level,
    sp.allMandatory,
    sp.refusesPlaintext,
    sp.certificateCheck,
  ]);
}

/** What master.cf changed, and where the log cannot tell its services apart. */
function masterCfNotes(master: MasterCf, ...sections: (SectionPolicy | null)[]): string[] {
  const notes: string[] = [];
  const judged = sections.flatMap((s) => s?.services ?? []);
  const mandatory = sections.flatMap((s) => s?.mandatoryServices ?? []);
  notes.push(
    `master.cf${master.source ? ` ${master.source}` : ''}: ${judged.length === 0 ? 'no smtpd service or smtp transport' : judged.map((s) => s.service).join(', ')} judged with ${judged.length === 1 ? 'its' : 'their'} own -o settings; sessions of other services under main.cf's${mandatory.length > 0 ? `, where ${mandatory.join(', ')} are taken to require TLS` : ''}`,
  );
  for (const s of judged) {
    if (s.policies.length < 2) continue;
    notes.push(
      `${s.service} is logged by master.cf services with different TLS settings (${s.entries.map((e) => e.name).join(', ')}) and the log does not say which one ran: its peers are undetermined where those that could have served them disagree (an entry that only talks over loopback, a content filter's, served no remote peer); give each its own -o syslog_name=postfix/NAME, a plain name, to tell them apart`,
    );
  }
  notes.push('smtp_tls_policy_maps is not read: per-destination levels and settings are not judged');
  return notes;
}

function sectionFromPostfix(
  policy: PostfixTlsPolicy,
  cf: MainCf,
  library: LibraryModel,
  mandatoryServices: readonly string[],
  scope: string | null = null,
): SectionPolicy {
  const role = policy.direction === 'inbound' ? 'server' : 'client';
  const notes: string[] = [];
  const levelParameter = LEVEL_PARAMETER[policy.direction];
  let level: string = policy.securityLevel;
  // Written in the file, even as "smtpd_tls_security_level =" (empty: Postfix then falls back to the obsolete
  // *_use_tls / *_enforce_tls, by default no), is a choice, not an excerpt's omission.
  const nothingSet = !cf.parameters.has(levelParameter) && policy.levelSources.every((s) => s.origin !== 'main.cf');
  if (nothingSet && level === 'none') {
    // An excerpt without the level is taken to mean "as the server runs now": the logs show TLS in use.
    level = 'may';
    notes.push(
      `${levelParameter} is not set (Postfix's default is none: no TLS at all); evaluated as "may", taking the file for an excerpt — set it to evaluate "none"`,
    );
  }
  const levelText =
    policy.levelSources[0]?.parameter === levelParameter
      ? `${levelParameter} = none`
      : `${levelParameter} is empty and ${policy.levelSources.map((s) => `${s.parameter} = ${s.value}`).join(', ')}: the level is none`;
  const wrapper =
    policy.direction === 'inbound' && isPostfixYes(cf.parameters.get('smtpd_tls_wrappermode')?.expanded ?? '');
  const opportunistic =
    level === 'none'
      ? unavailable(
          policy.direction === 'inbound'
            ? `${levelText}: smtpd offers no STARTTLS`
            : `${levelText}: the smtp client never tries STARTTLS`,
        )
      : level === 'invalid'
        ? unavailable(`${levelParameter} is invalid: Postfix stops with a fatal error`)
        : settingsFromPostfix(policy.opportunistic, role, library, 'opportunistic');
  const mandatory =
    level === 'invalid'
      ? unavailable(`${levelParameter} is invalid: Postfix stops with a fatal error`)
      : settingsFromPostfix(policy.mandatory, role, library, 'mandatory');
  const allMandatory =
    wrapper ||
    (policy.direction === 'inbound'
      ? level === 'encrypt'
      : level !== 'none' && level !== 'may' && level !== 'dane' && level !== 'invalid');
  if (wrapper) {
    notes.push(
      scope === null
        ? 'smtpd_tls_wrappermode = yes in main.cf: every smtpd service, port 25 included, expects TLS at once'
        : `smtpd_tls_wrappermode = yes: ${scope} expects TLS at once`,
    );
  }
  const sha1 = sha1SignatureNote(library, opportunistic, mandatory);
  if (sha1 !== null) notes.push(sha1);
  if (policy.direction === 'outbound' && level === 'dane') {
    notes.push(
      'smtp_tls_security_level = dane: destinations with DNSSEC-signed TLSA records use the mandatory settings and get no plaintext fallback; the log does not say which those are, so the opportunistic settings are used for all',
    );
  }
  return {
    role,
    opportunistic,
    mandatory,
    allMandatory,
    refusesPlaintext: allMandatory,
    mandatoryServices: policy.direction === 'inbound' ? mandatoryServices : [],
    level,
    certificateCheck: certificateCheckOf(policy.direction, level, cf),
    services: [],
    scope,
    notes,
  };
}

/**
 * What a main.cf asks of the peer's certificate on top of TLS (postconf(5), TLS_README "Client-side/Server-side"):
 * outbound, the levels fingerprint, verify, secure and dane-only (dane falls back to may without TLSA records),
 * each name check as main.cf sets it; inbound, smtpd_tls_req_ccert = yes, which takes effect with mandatory TLS
 * (level encrypt).
 */
function certificateCheckOf(direction: 'inbound' | 'outbound', level: string, cf: MainCf): CertificateCheck | null {
  const setting = (name: string, fallback: string) => resolveParameter(cf, name).expanded.trim() || fallback;
  if (direction === 'outbound') {
    const requirement =
      level === 'fingerprint'
        ? "the server's certificate to match a listed fingerprint"
        : level === 'verify'
          ? `the server's certificate to verify and to name the host (smtp_tls_verify_cert_match = ${setting('smtp_tls_verify_cert_match', 'hostname')})`
          : level === 'secure'
            ? `the server's certificate to verify and to name the destination (smtp_tls_secure_cert_match = ${setting('smtp_tls_secure_cert_match', 'nexthop, dot-nexthop')})`
            : level === 'dane-only'
              ? "the server's certificate to match its DNSSEC-signed TLSA records"
              : null;
    if (requirement === null) return null;
    return {
      level: level as CertificateCheck['level'],
      requirement: `smtp_tls_security_level = ${level} requires ${requirement}`,
      anchors: trustAnchors(cf, 'smtp'),
    };
  }
  if (level === 'encrypt' && isPostfixYes(resolveParameter(cf, 'smtpd_tls_req_ccert').expanded)) {
    return {
      level: 'client',
      requirement: 'smtpd_tls_req_ccert = yes requires a client certificate that verifies',
      anchors: trustAnchors(cf, 'smtpd'),
    };
  }
  return null;
}

const LEVEL_ORIGIN: Record<SecurityLevelOrigin, string> = {
  postfix: 'as Postfix sets it',
  cipherlist: '@SECLEVEL in the cipher list',
  authentication: 'Postfix authenticates the peer',
};

function settingsFromPostfix(
  s: PostfixTlsSettings,
  role: 'server' | 'client',
  library: LibraryModel,
  which: 'opportunistic' | 'mandatory',
): TlsSettings {
  const daemon = role === 'server' ? 'smtpd' : 'the smtp client';
  if (!s.protocolPolicy.evaluation.valid) {
    const p = s.protocolPolicy.source;
    return unavailable(
      `${p.parameter} = "${p.value}" is not a valid protocol list: ${
        role === 'server' ? 'smtpd disables TLS' : 'the smtp client aborts every TLS session'
      }`,
    );
  }
  if (!s.cipherPolicy.valid) {
    const reason = s.cipherPolicy.evaluation.error ?? 'invalid cipher settings';
    return unavailable(`${s.cipherPolicy.gradeSource.parameter}: ${reason}: ${daemon} cannot start TLS`);
  }
  const grade = `${s.cipherPolicy.grade ?? '?'} grade, ${which}`;
  if (library === '3.0') {
    const protocols = new Set([...s.negotiableProtocols].filter((p): p is TlsProtocol => p !== 'unknown'));
    const ciphers = new Set(s.usableCiphers.map(suiteName));
    if (protocols.size === 0)
      return unavailable(`${s.protocolPolicy.source.parameter}: no version OpenSSL 3.0 can negotiate`);
    return {
      protocols,
      ciphers,
      securityLevel: s.securityLevel,
      securityLevelRules: '3.0',
      unavailable: null,
      summary: summarise(
        protocols,
        ciphers,
        `${grade}, OpenSSL 3.0 security level ${s.securityLevel}: ${LEVEL_ORIGIN[s.securityLevelOrigin]}`,
      ),
    };
  }
  // A level main.cf sets (@SECLEVEL in the list, Postfix's 1 for authentication) restricts on any library; Postfix's
  // base 0 restricts nothing.
  const level = s.securityLevelOrigin === 'postfix' ? null : s.securityLevel;
  const enabled = new Set([...s.protocols].filter((p): p is TlsProtocol => p !== 'unknown'));
  const protocols = effectiveProtocols(enabled, role, 'current', level);
  const ciphers = new Set((level === null ? s.ciphers : filterCiphersBySecurityLevel(s.ciphers, level)).map(suiteName));
  if (protocols.size === 0) return unavailable(`${s.protocolPolicy.source.parameter}: leaves no protocol version`);
  return {
    protocols,
    ciphers,
    securityLevel: level,
    securityLevelRules: '1.1',
    unavailable: null,
    summary: summarise(
      protocols,
      ciphers,
      level === null ? grade : `${grade}, security level ${level}: ${LEVEL_ORIGIN[s.securityLevelOrigin]}`,
    ),
  };
}

// ------------------------------------------------------------------------------------------------- presets

export interface PolicyPreset {
  readonly id: string;
  readonly title: string;
  readonly flags: Omit<PolicyFlags, 'library' | 'sections'>;
  /** Alternatively an explicit cipher set (IANA names) when no OpenSSL string says it as well. */
  readonly cipherSet?: () => Set<string>;
}

const isWeakSuite = (s: CipherSuite): boolean =>
  ['RC4', '3DES_EDE_CBC', 'DES_CBC', 'DES40_CBC', 'RC2_CBC', 'IDEA_CBC', 'NULL'].includes(s.enc) ||
  s.encBits < 112 ||
  s.mac === 'MD5' ||
  s.auth === 'anon' ||
  (!s.aead && s.mac === 'SHA1');

/** Common policies for the HTML report's what-if section and `whatif --preset`. */
export const POLICY_PRESETS: readonly PolicyPreset[] = [
  { id: 'no-sslv3', title: 'No SSLv3', flags: { excludeProtocols: 'SSLv2,SSLv3' } },
  { id: 'min-tls12', title: 'Minimum TLS 1.2', flags: { minProtocol: 'TLSv1.2' } },
  {
    id: 'min-tls12-intermediate',
    title: 'Minimum TLS 1.2 with Mozilla intermediate ciphers',
    flags: { minProtocol: 'TLSv1.2' },
    cipherSet: () =>
      new Set(
        CIPHER_SUITES.filter(
          (s) => s.minProtocol !== 'TLSv1.3' && (s.mozilla === 'modern' || s.mozilla === 'intermediate'),
        ).map(suiteName),
      ),
  },
  {
    id: 'no-weak-ciphers',
    title: 'No RC4, 3DES, DES, export, NULL, anonymous, MD5 or CBC with SHA-1',
    flags: {},
    cipherSet: () =>
      new Set(CIPHER_SUITES.filter((s) => s.minProtocol !== 'TLSv1.3' && !isWeakSuite(s)).map(suiteName)),
  },
];

export function presetPolicy(preset: PolicyPreset, library: LibraryModel = 'current'): WhatIfPolicy {
  const base = policyFromFlags({ ...preset.flags, library, sections: WHATIF_SECTIONS });
  if (!preset.cipherSet) return { ...base, source: 'preset', description: preset.title };
  const set = preset.cipherSet();
  const withCiphers = (s: SectionPolicy | null): SectionPolicy | null => {
    if (!s) return null;
    const settings = (t: TlsSettings): TlsSettings => ({
      ...t,
      ciphers: set,
      summary: summarise(t.protocols, set, t.securityLevel !== null ? `security level ${t.securityLevel}` : ''),
    });
    return { ...s, opportunistic: settings(s.opportunistic), mandatory: settings(s.mandatory) };
  };
  return {
    ...base,
    source: 'preset',
    description: preset.title,
    inbound: withCiphers(base.inbound),
    outbound: withCiphers(base.outbound),
    mailbox: withCiphers(base.mailbox),
  };
}
