// The TLS policy a parsed main.cf gives the Postfix SMTP server (inbound, smtpd_*) and client (outbound, smtp_*):
// security level, protocols and cipher list for opportunistic and for mandatory TLS, and what OpenSSL 3.0 can
// actually negotiate with them. The audit lints these values; the what-if compares peers' handshakes with them.
//
// Postfix 3.7 behaviour reproduced here:
//   smtpd (smtpd.c pre_jail_init(), pasted literally into tlsproxy.c and postscreen): a non-empty
//     smtpd_tls_security_level wins: none, may, encrypt; fingerprint/verify/secure are "unsupported, using
//     encrypt"; anything else is fatal ("Invalid TLS level"). Otherwise the obsolete smtpd_enforce_tls (→ encrypt)
//     and smtpd_use_tls (→ may). With TLS required the server uses smtpd_tls_mandatory_protocols,
//     smtpd_tls_mandatory_ciphers and smtpd_tls_exclude_ciphers + smtpd_tls_mandatory_exclude_ciphers; else
//     smtpd_tls_protocols, smtpd_tls_ciphers and smtpd_tls_exclude_ciphers. Asking for client certificates
//     (smtpd_tls_ask_ccert, or smtpd_tls_req_ccert with TLS required) also excludes aNULL.
//   smtp (smtp_tls_policy.c global_tls_level(), set_cipher_grade(), policy_create()): a non-empty
//     smtp_tls_security_level wins (any tls_level.c name; others are fatal); else smtp_enforce_tls gives verify
//     (smtp_tls_enforce_peername = yes) or encrypt, smtp_use_tls gives may. Level may uses smtp_tls_protocols,
//     smtp_tls_ciphers and smtp_tls_exclude_ciphers; higher levels the mandatory protocols and grade, plus
//     smtp_tls_mandatory_exclude_ciphers and "eNULL" (encrypt) or "aNULL" (levels that authenticate the server).
//     Per-destination smtp_tls_policy_maps are not read here.
//   Cipher list (tls_misc.c tls_set_ciphers()): the grade (high, medium, low, export, null; case-insensitive)
//     selects tls_<grade>_cipherlist; each exclusion token (split on commas, whitespace and colons) is appended as
//     ":!token"; a token starting with '!', '+', '-' or '@' makes the list invalid. If OpenSSL rejects the result,
//     TLS cannot start ("invalid ... cipher list"). tls_exclude_missing() appends nothing with OpenSSL 3 (its
//     AES-256/CAMELLIA-256 probes succeed). The grade lists govern TLS ≤ 1.2 only: TLS 1.3 suites are
//     configured separately (tls_ssl_options / OpenSSL defaults) and are not part of `ciphers`.
//   Protocols: postfix-protocols.ts. An invalid protocol list disables TLS entirely (smtpd) or aborts each TLS
//     session (smtp).
//   OpenSSL security level (postfixSecurityLevel below): Postfix sets 0 itself, whatever the library's default
//     (Debian's 2); `@SECLEVEL=n` in the cipher list replaces it; authenticating the peer raises it to 1.
//   Not modelled: master.cf `-o` overrides, lmtp_*, smtp_tls_policy_maps, certificates (smtpd without a
//     certificate offers no STARTTLS), TLS 1.3 ciphersuite settings.

import type { CipherSuite } from '../ciphers/suites.generated.js';
import type { Direction, Protocol } from '../model/types.js';
import { type MainCf, type ParameterOrigin, resolveParameter } from './main-cf.js';
import {
  type CipherStringResult,
  evaluateOpensslCipherString,
  OPENSSL_3_0_DEBIAN,
  type OpensslBuild,
} from './openssl-cipher-string.js';
import {
  canCompleteHandshake,
  filterCiphersBySecurityLevel,
  isProtocolPermittedAtSecurityLevel,
} from './openssl-security-level.js';
import {
  evaluatePostfixProtocols,
  negotiableProtocols,
  OPENSSL_3_0_PROTOCOLS,
  type OpensslProtocolSupport,
  type PostfixProtocols,
  TLS_PROTOCOLS,
  type TlsProtocol,
} from './postfix-protocols.js';

/** tls_level.c names, plus `invalid` for a value Postfix refuses to start with. */
export type PostfixTlsLevel =
  | 'none'
  | 'may'
  | 'encrypt'
  | 'fingerprint'
  | 'dane'
  | 'dane-only'
  | 'verify'
  | 'secure'
  | 'invalid';

export type PostfixCipherGrade = 'high' | 'medium' | 'low' | 'export' | 'null';

const LEVELS: readonly PostfixTlsLevel[] = [
  'none',
  'may',
  'encrypt',
  'fingerprint',
  'dane',
  'dane-only',
  'verify',
  'secure',
];
const GRADES: readonly PostfixCipherGrade[] = ['high', 'medium', 'low', 'export', 'null'];

/** Where a setting came from, so findings can point at the line to change. */
export interface SettingSource {
  readonly parameter: string;
  /** The expanded value Postfix uses. */
  readonly value: string;
  readonly origin: ParameterOrigin;
  readonly line: number | null;
}

export interface PolicyProblem {
  readonly severity: 'error' | 'warning';
  readonly parameter: string;
  readonly message: string;
}

export interface PostfixCipherPolicy {
  /** The grade in effect; null when the grade value is invalid (Postfix then cannot start TLS). */
  readonly grade: PostfixCipherGrade | null;
  readonly gradeSource: SettingSource;
  /** The tls_<grade>_cipherlist parameter behind the grade. */
  readonly listSource: SettingSource | null;
  /** Exclusion tokens in the order Postfix appends them, with the parameter that caused each. */
  readonly exclusions: ReadonlyArray<{ readonly token: string; readonly parameter: string }>;
  /** The exact string Postfix hands to SSL_CTX_set_cipher_list(); null when Postfix gives up before that. */
  readonly cipherString: string | null;
  /** The OpenSSL evaluation of `cipherString` (empty result when it is null). */
  readonly evaluation: CipherStringResult;
  /** False when TLS cannot start with these settings (invalid grade, invalid exclusion, OpenSSL rejects the list). */
  readonly valid: boolean;
}

export interface PostfixProtocolPolicy {
  readonly source: SettingSource;
  readonly evaluation: PostfixProtocols;
}

/** One set of settings: the opportunistic one (level may) or the mandatory one (encrypt and up). */
export interface PostfixTlsSettings {
  /** Protocol versions Postfix enables (asks OpenSSL for); empty when the list is invalid. */
  readonly protocols: Set<Protocol>;
  /** The TLS ≤ 1.2 cipher list Postfix configures, in OpenSSL preference order; empty when invalid. */
  readonly ciphers: CipherSuite[];
  /** `ciphers` minus the suites the OpenSSL security level refuses. */
  readonly usableCiphers: CipherSuite[];
  /** Versions OpenSSL 3.0 can complete a handshake with in this role, given the protocols, ciphers and level. */
  readonly negotiableProtocols: Set<Protocol>;
  /** The OpenSSL security level Postfix runs these handshakes at (postfixSecurityLevel). */
  readonly securityLevel: number;
  /** Where that level comes from. */
  readonly securityLevelOrigin: SecurityLevelOrigin;
  readonly protocolPolicy: PostfixProtocolPolicy;
  readonly cipherPolicy: PostfixCipherPolicy;
  /** False when Postfix cannot use TLS at all with these settings. */
  readonly valid: boolean;
}

export interface PostfixTlsPolicy {
  readonly direction: Direction;
  /** smtpd for inbound, smtp for outbound. */
  readonly daemon: 'smtpd' | 'smtp';
  readonly securityLevel: PostfixTlsLevel;
  /** The parameter(s) the level was derived from. */
  readonly levelSources: readonly SettingSource[];
  /** TLS offered/attempted at all (level may or higher). */
  readonly tlsEnabled: boolean;
  /** TLS required (level encrypt or higher; smtpd also with smtpd_tls_wrappermode). */
  readonly tlsRequired: boolean;
  /** TLS enabled and the active settings valid: STARTTLS is really offered (smtpd) or attempted (smtp). */
  readonly tlsUsable: boolean;
  /** The settings main.cf's level applies to sessions: opportunistic for may, mandatory above, null for none. */
  readonly active: 'opportunistic' | 'mandatory' | null;
  readonly opportunistic: PostfixTlsSettings;
  /**
   * What mandatory TLS uses: main.cf's level when it requires TLS, else what a service or destination switched to
   * `encrypt` (master.cf `-o smtpd_tls_security_level=encrypt`, a policy-map entry) would get.
   */
  readonly mandatory: PostfixTlsSettings;
  readonly problems: readonly PolicyProblem[];
}

export interface TlsPolicyOptions {
  readonly build?: OpensslBuild;
  readonly protocolSupport?: OpensslProtocolSupport;
}

/**
 * Why Postfix runs at its security level: `postfix` its own base (0), `cipherlist` an `@SECLEVEL=n` in the cipher
 * list, `authentication` the level 1 it sets where the peer must be authenticated.
 */
export type SecurityLevelOrigin = 'postfix' | 'cipherlist' | 'authentication';

/** Postfix's base level: tls_server_init() and tls_client_init() call SSL_CTX_set_security_level(ctx, 0). */
export const POSTFIX_BASE_SECURITY_LEVEL = 0;

/**
 * The OpenSSL security level of a Postfix handshake. Postfix 3.7 (tls_server.c tls_server_init(), tls_client.c
 * tls_client_init()) sets SSL_CTX_set_security_level(ctx, 0), "Backwards compatible security as a base for
 * opportunistic TLS", so the library's default (Debian/Ubuntu: 2) never applies. Per session tls_set_ciphers()
 * (tls_misc.c) hands the cipher list to SSL_set_cipher_list(), where `@SECLEVEL=n` sets the session's level. After
 * that, SSL_set_security_level(con, 1) "when authenticating the peer": tls_client_start() for the levels above
 * encrypt (TLS_MUST_MATCH: fingerprint, dane, dane-only, verify, secure), tls_server_start() when a client
 * certificate is required (smtpd_tls_req_ccert with TLS required); it replaces an `@SECLEVEL` of the list. (The
 * order of these calls checked in the disassembly of Debian 12's libpostfix-tls.so, Postfix 3.7.11.)
 */
export function postfixSecurityLevel(
  cipher: PostfixCipherPolicy,
  authenticatesPeer: boolean,
): { level: number; origin: SecurityLevelOrigin } {
  if (authenticatesPeer) return { level: 1, origin: 'authentication' };
  if (cipher.valid && cipher.evaluation.securityLevel !== null) {
    return { level: cipher.evaluation.securityLevel, origin: 'cipherlist' };
  }
  return { level: POSTFIX_BASE_SECURITY_LEVEL, origin: 'postfix' };
}

function source(cf: MainCf, parameter: string): SettingSource {
  const resolved = resolveParameter(cf, parameter);
  return { parameter, value: resolved.expanded, origin: resolved.origin, line: resolved.line };
}

/** A Postfix boolean is true: get_mail_conf_bool() compares "yes"/"no" case-insensitively (YES, Yes). */
export function isPostfixYes(value: string): boolean {
  // Anything but yes/no is fatal (reported by lintBoolean).
  return value.toLowerCase() === 'yes';
}

/**
 * The trust anchors main.cf gives the smtp client or smtpd, as `parameter = value` texts; none (empty) means that
 * no certificate can verify. The defaults are all empty (`postconf -d`, Postfix 3.7). tls_append_default_CA = yes
 * is no anchor of its own: Postfix appends the system's CAs only to a CAfile or CApath that is set
 * (tls_certkey.c tls_set_ca_certificate_info(); checked with real Postfix 3.7 at level verify: deferred without
 * them, "Verified" with an empty CApath). smtp_tls_trust_anchor_file is one (postconf(5)); smtpd has none such.
 */
export function trustAnchors(cf: MainCf, daemon: 'smtp' | 'smtpd'): string[] {
  const names = [`${daemon}_tls_CAfile`, `${daemon}_tls_CApath`];
  if (daemon === 'smtp') names.push('smtp_tls_trust_anchor_file');
  const out: string[] = [];
  for (const name of names) {
    const value = resolveParameter(cf, name).expanded.trim();
    if (value !== '') out.push(`${name} = ${value}`);
  }
  return out;
}

function lintBoolean(setting: SettingSource, problems: PolicyProblem[]): void {
  const value = setting.value.toLowerCase();
  if (value !== 'yes' && value !== 'no') {
    problems.push({
      severity: 'error',
      parameter: setting.parameter,
      message: `bad boolean value "${setting.value}" (Postfix stops with a fatal error; use yes or no)`,
    });
  }
}

function lookupLevel(value: string): PostfixTlsLevel {
  const lower = value.toLowerCase();
  return LEVELS.find((level) => level === lower) ?? 'invalid';
}

const CIPHER_SEPARATORS = /[,: \t\r\n]+/;

function cipherPolicy(
  cf: MainCf,
  gradeParameter: string,
  exclusionSources: ReadonlyArray<{ parameter: string; value: string }>,
  build: OpensslBuild,
  problems: PolicyProblem[],
): PostfixCipherPolicy {
  const gradeSource = source(cf, gradeParameter);
  const gradeName = gradeSource.value.toLowerCase();
  const grade = GRADES.find((g) => g === gradeName) ?? null;
  const exclusions = exclusionSources.flatMap(({ parameter, value }) =>
    value
      .split(CIPHER_SEPARATORS)
      .filter((token) => token.length > 0)
      .map((token) => ({ token, parameter })),
  );
  const invalid = (listSource: SettingSource | null, reason: string): PostfixCipherPolicy => ({
    grade,
    gradeSource,
    listSource,
    exclusions,
    cipherString: null,
    evaluation: { ciphers: [], warnings: [], error: reason, securityLevel: null, suiteB: null, elements: [] },
    valid: false,
  });

  if (grade === null) {
    const reason = `invalid cipher grade "${gradeSource.value}"`;
    problems.push({
      severity: 'error',
      parameter: gradeParameter,
      message: `${reason}: Postfix cannot start TLS (use high, medium, low, export or null)`,
    });
    return invalid(null, reason);
  }
  const listSource = source(cf, `tls_${grade}_cipherlist`);
  const modifier = exclusions.find(({ token }) => '!+-@'.includes(token[0] ?? ''));
  if (modifier) {
    const reason = `invalid unary '!+-@' in cipher exclusion "${modifier.token}"`;
    problems.push({ severity: 'error', parameter: modifier.parameter, message: `${reason}: Postfix cannot start TLS` });
    return invalid(listSource, reason);
  }
  const cipherString = listSource.value + exclusions.map(({ token }) => `:!${token}`).join('');
  const evaluation = evaluateOpensslCipherString(cipherString, { build });
  if (evaluation.error !== null) {
    problems.push({
      severity: 'error',
      parameter: listSource.parameter,
      message: `OpenSSL rejects the ${grade} cipher list "${cipherString}" (${evaluation.error}): Postfix cannot start TLS`,
    });
  }
  return {
    grade,
    gradeSource,
    listSource,
    exclusions,
    cipherString,
    evaluation,
    valid: evaluation.error === null,
  };
}

function settings(
  cf: MainCf,
  role: 'server' | 'client',
  protocolParameter: string,
  cipher: PostfixCipherPolicy,
  authenticatesPeer: boolean,
  support: OpensslProtocolSupport,
  problems: PolicyProblem[],
): PostfixTlsSettings {
  const { level: securityLevel, origin: securityLevelOrigin } = postfixSecurityLevel(cipher, authenticatesPeer);
  const protocolSource = source(cf, protocolParameter);
  const protocols = evaluatePostfixProtocols(protocolSource.value);
  if (!protocols.valid) {
    const unknown = protocols.tokens
      .filter((t) => t.kind === 'invalid')
      .map((t) => `"${t.text}"`)
      .join(', ');
    problems.push({
      severity: 'error',
      parameter: protocolParameter,
      message: `invalid protocol list "${protocolSource.value}" (not understood: ${unknown}): ${
        role === 'server' ? 'smtpd disables TLS support' : 'the smtp client aborts every TLS session'
      }`,
    });
  }
  const ciphers = cipher.valid ? cipher.evaluation.ciphers : [];
  const usableCiphers = filterCiphersBySecurityLevel(ciphers, securityLevel);
  // The version check of the security level is part of OpenSSL's enabled-version computation (ssl_method_error),
  // so it shapes the client's contiguous range; the signature restriction then applies per handshake.
  const permitted = new Set<TlsProtocol>(
    [...protocols.enabled].filter((p) => canCompleteSomeHandshake(role, p, ciphers, securityLevel, true)),
  );
  const negotiable = new Set<Protocol>();
  const candidates = negotiableProtocols(permitted, role, support);
  for (const protocol of TLS_PROTOCOLS) {
    if (candidates.has(protocol) && canCompleteSomeHandshake(role, protocol, ciphers, securityLevel, false)) {
      negotiable.add(protocol);
    }
  }
  const valid = protocols.valid && cipher.valid;
  return {
    protocols: new Set<Protocol>(protocols.enabled),
    ciphers,
    usableCiphers,
    negotiableProtocols: valid ? negotiable : new Set(),
    securityLevel,
    securityLevelOrigin,
    protocolPolicy: { source: protocolSource, evaluation: protocols },
    cipherPolicy: cipher,
    valid,
  };
}

/**
 * Whether any suite makes a handshake with `protocol` possible. TLS 1.3 uses its own suites (OpenSSL's defaults,
 * untouched by the Postfix grade lists). With `versionOnly` only the security level's version check is applied.
 */
function canCompleteSomeHandshake(
  role: 'server' | 'client',
  protocol: TlsProtocol,
  ciphers: readonly CipherSuite[],
  level: number,
  versionOnly: boolean,
): boolean {
  if (versionOnly) return isProtocolPermittedAtSecurityLevel(protocol, level);
  if (protocol === 'TLSv1.3') return true;
  return ciphers.some((suite) => canCompleteHandshake(role, protocol, suite, level));
}

/** Derives the inbound (smtpd) or outbound (smtp) TLS policy from a parsed main.cf. Never throws. */
export function derivePostfixTlsPolicy(
  cf: MainCf,
  direction: Direction,
  options: TlsPolicyOptions = {},
): PostfixTlsPolicy {
  const build = options.build ?? OPENSSL_3_0_DEBIAN;
  const support = options.protocolSupport ?? OPENSSL_3_0_PROTOCOLS;
  const problems: PolicyProblem[] = [];
  return direction === 'inbound'
    ? serverPolicy(cf, build, support, problems)
    : clientPolicy(cf, build, support, problems);
}

function serverPolicy(
  cf: MainCf,
  build: OpensslBuild,
  support: OpensslProtocolSupport,
  problems: PolicyProblem[],
): PostfixTlsPolicy {
  const levelSource = source(cf, 'smtpd_tls_security_level');
  const useTls = source(cf, 'smtpd_use_tls');
  const enforceTls = source(cf, 'smtpd_enforce_tls');
  const wrapper = source(cf, 'smtpd_tls_wrappermode');
  const askCcert = source(cf, 'smtpd_tls_ask_ccert');
  const reqCcert = source(cf, 'smtpd_tls_req_ccert');
  for (const setting of [useTls, enforceTls, wrapper, askCcert, reqCcert]) lintBoolean(setting, problems);

  let level: PostfixTlsLevel;
  let levelSources: SettingSource[];
  if (levelSource.value.length > 0) {
    levelSources = [levelSource];
    level = lookupLevel(levelSource.value);
    if (level === 'fingerprint' || level === 'verify' || level === 'secure') {
      problems.push({
        severity: 'warning',
        parameter: levelSource.parameter,
        message: `smtpd does not support TLS level "${levelSource.value}" and uses "encrypt"`,
      });
      level = 'encrypt';
    } else if (level === 'dane' || level === 'dane-only' || level === 'invalid') {
      problems.push({
        severity: 'error',
        parameter: levelSource.parameter,
        message: `invalid smtpd TLS level "${levelSource.value}": smtpd stops with a fatal error`,
      });
      level = 'invalid';
    }
  } else {
    levelSources = [enforceTls, useTls];
    level = isPostfixYes(enforceTls.value) ? 'encrypt' : isPostfixYes(useTls.value) ? 'may' : 'none';
  }
  const required = level === 'encrypt' || isPostfixYes(wrapper.value);
  const enabled = required || level === 'may';

  const mandatoryCipher = cipherPolicy(
    cf,
    'smtpd_tls_mandatory_ciphers',
    [
      { parameter: 'smtpd_tls_exclude_ciphers', value: source(cf, 'smtpd_tls_exclude_ciphers').value },
      {
        parameter: 'smtpd_tls_mandatory_exclude_ciphers',
        value: source(cf, 'smtpd_tls_mandatory_exclude_ciphers').value,
      },
      ...(isPostfixYes(askCcert.value) || isPostfixYes(reqCcert.value)
        ? [{ parameter: isPostfixYes(askCcert.value) ? 'smtpd_tls_ask_ccert' : 'smtpd_tls_req_ccert', value: 'aNULL' }]
        : []),
    ],
    build,
    problems,
  );
  const opportunisticCipher = cipherPolicy(
    cf,
    'smtpd_tls_ciphers',
    [
      { parameter: 'smtpd_tls_exclude_ciphers', value: source(cf, 'smtpd_tls_exclude_ciphers').value },
      ...(isPostfixYes(askCcert.value) ? [{ parameter: 'smtpd_tls_ask_ccert', value: 'aNULL' }] : []),
    ],
    build,
    problems,
  );
  const active = !enabled || level === 'invalid' ? null : required ? 'mandatory' : 'opportunistic';
  const opportunistic = settings(cf, 'server', 'smtpd_tls_protocols', opportunisticCipher, false, support, problems);
  const mandatory = settings(
    cf,
    'server',
    'smtpd_tls_mandatory_protocols',
    mandatoryCipher,
    // smtpd.c: requirecert = smtpd_tls_req_ccert with TLS required, which is what the mandatory settings serve.
    isPostfixYes(reqCcert.value),
    support,
    problems,
  );
  return {
    direction: 'inbound',
    daemon: 'smtpd',
    securityLevel: level,
    levelSources,
    tlsEnabled: enabled && level !== 'invalid',
    tlsRequired: required && level !== 'invalid',
    tlsUsable: active !== null && (active === 'mandatory' ? mandatory : opportunistic).valid,
    active,
    opportunistic,
    mandatory,
    problems: dedupe(problems),
  };
}

const AUTHENTICATING: ReadonlySet<PostfixTlsLevel> = new Set(['fingerprint', 'dane', 'dane-only', 'verify', 'secure']);

function clientPolicy(
  cf: MainCf,
  build: OpensslBuild,
  support: OpensslProtocolSupport,
  problems: PolicyProblem[],
): PostfixTlsPolicy {
  const levelSource = source(cf, 'smtp_tls_security_level');
  const useTls = source(cf, 'smtp_use_tls');
  const enforceTls = source(cf, 'smtp_enforce_tls');
  const peername = source(cf, 'smtp_tls_enforce_peername');
  for (const setting of [useTls, enforceTls, peername]) lintBoolean(setting, problems);

  let level: PostfixTlsLevel;
  let levelSources: SettingSource[];
  if (levelSource.value.length > 0) {
    levelSources = [levelSource];
    level = lookupLevel(levelSource.value);
    if (level === 'invalid') {
      problems.push({
        severity: 'error',
        parameter: levelSource.parameter,
        message: `invalid TLS security level "${levelSource.value}": the smtp client stops with a fatal error`,
      });
    }
  } else if (isPostfixYes(enforceTls.value)) {
    levelSources = [enforceTls, peername];
    level = isPostfixYes(peername.value) ? 'verify' : 'encrypt';
  } else {
    levelSources = [enforceTls, useTls];
    level = isPostfixYes(useTls.value) ? 'may' : 'none';
  }
  const required = level !== 'none' && level !== 'may' && level !== 'invalid';
  const enabled = level !== 'none' && level !== 'invalid';
  // Mandatory settings as the actual level uses them, or as "encrypt" when main.cf's level is lower.
  const mandatoryLevel: PostfixTlsLevel = required ? level : 'encrypt';
  const exclude = { parameter: 'smtp_tls_exclude_ciphers', value: source(cf, 'smtp_tls_exclude_ciphers').value };
  const mandatoryCipher = cipherPolicy(
    cf,
    'smtp_tls_mandatory_ciphers',
    [
      exclude,
      {
        parameter: 'smtp_tls_mandatory_exclude_ciphers',
        value: source(cf, 'smtp_tls_mandatory_exclude_ciphers').value,
      },
      // Built in: smtp_tls_policy.c set_cipher_grade() adds these for the level.
      { parameter: 'smtp_tls_security_level', value: AUTHENTICATING.has(mandatoryLevel) ? 'aNULL' : 'eNULL' },
    ],
    build,
    problems,
  );
  const opportunisticCipher = cipherPolicy(cf, 'smtp_tls_ciphers', [exclude], build, problems);
  const active = !enabled ? null : required ? 'mandatory' : 'opportunistic';
  const opportunistic = settings(cf, 'client', 'smtp_tls_protocols', opportunisticCipher, false, support, problems);
  const mandatory = settings(
    cf,
    'client',
    'smtp_tls_mandatory_protocols',
    mandatoryCipher,
    AUTHENTICATING.has(mandatoryLevel),
    support,
    problems,
  );
  return {
    direction: 'outbound',
    daemon: 'smtp',
    securityLevel: level,
    levelSources,
    tlsEnabled: enabled,
    tlsRequired: required,
    tlsUsable: active !== null && (active === 'mandatory' ? mandatory : opportunistic).valid,
    active,
    opportunistic,
    mandatory,
    problems: dedupe(problems),
  };
}

/** The same problem can be found twice (a parameter shared by both settings); report it once. */
function dedupe(problems: readonly PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.severity}|${p.parameter}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Both directions at once. */
export function derivePostfixTlsPolicies(
  cf: MainCf,
  options: TlsPolicyOptions = {},
): { inbound: PostfixTlsPolicy; outbound: PostfixTlsPolicy } {
  return {
    inbound: derivePostfixTlsPolicy(cf, 'inbound', options),
    outbound: derivePostfixTlsPolicy(cf, 'outbound', options),
  };
}
