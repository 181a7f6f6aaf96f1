// `tlscensus audit`: lints the TLS settings of a Postfix main.cf (or `postconf -n` output) the way Postfix 3.7+
// reads them, and — given logs — proposes the tightest policy the traffic allows (audit-proposal.ts).
//
// Every rule cites postconf(5) (Postfix 3.7.11, `man 5 postconf`) or the Postfix source it follows. Severity:
//   error    Postfix stops, disables TLS, or the setting is clearly unsafe for what it protects (SSLv3 where TLS
//            is mandatory);
//   warning  it works, but not as the admin most likely meant, or it costs interoperability for no gain;
//   info     harmless, or worth knowing.
// `tlscensus audit` exits 5 when an error-severity finding exists.

import { CIPHER_SUITES } from '../ciphers/suites.generated.js';
import { type MainCf, resolveParameter } from './main-cf.js';
import { type CipherStringElement, evaluateOpensslCipherString, OPENSSL_3_0_DEBIAN } from './openssl-cipher-string.js';
import { evaluatePostfixProtocols, negotiableProtocols, type PostfixProtocols } from './postfix-protocols.js';
import { parseTlsLogLevel } from './postfix-tls-log-level.js';
import {
  derivePostfixTlsPolicies,
  type PostfixCipherPolicy,
  type PostfixTlsPolicy,
  type PostfixTlsSettings,
  trustAnchors,
} from './postfix-tls-policy.js';
import { POLICY_PROTOCOLS, protocolRank } from './whatif-policy.js';

export const AUDIT_SCHEMA = 'tlscensus/audit@1';

export type Severity = 'error' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

export interface Finding {
  /** Stable rule id (README lists them). */
  id: string;
  severity: Severity;
  parameter: string;
  message: string;
  fix: string;
  /** main.cf line of the parameter, when it is set there; for master.cf findings, the entry's line. */
  line: number | null;
  /** Present for findings about master.cf (audit-master-cf.ts): `line` is then a master.cf line. */
  file?: 'master.cf';
  /** The master.cf service (its first field) a finding is about. */
  service?: string;
}

function lineOf(cf: MainCf, parameter: string): number | null {
  return cf.parameters.get(parameter)?.line ?? null;
}

function isSet(cf: MainCf, parameter: string): boolean {
  return cf.parameters.has(parameter);
}

function value(cf: MainCf, parameter: string): string {
  return resolveParameter(cf, parameter).expanded;
}

const list = (xs: readonly string[]) => xs.map((x) => `"${x}"`).join(', ');

class Findings {
  readonly all: Finding[] = [];
  constructor(private readonly cf: MainCf) {}
  add(id: string, severity: Severity, parameter: string, message: string, fix: string): void {
    const key = `${id}|${parameter}|${message}`;
    if (this.all.some((f) => `${f.id}|${f.parameter}|${f.message}` === key)) return;
    this.all.push({ id, severity, parameter, message, fix, line: lineOf(this.cf, parameter) });
  }
}

// ------------------------------------------------------------------------------------------------- levels

function auditLevels(f: Findings, cf: MainCf, p: PostfixTlsPolicy): void {
  const d = p.daemon;
  const levelParameter = `${d}_tls_security_level`;
  // postconf(5) smtpd_tls_security_level / smtp_tls_security_level: a non-empty level overrides the obsolete
  // booleans; an empty one (the default, or "smtpd_tls_security_level =") leaves the level to them, and with
  // neither of them set the level is none (no TLS at all).
  const levelSet = value(cf, levelParameter) !== '';
  const writtenEmpty = isSet(cf, levelParameter) && !levelSet;
  const useTls = `${d}_use_tls`;
  const enforceTls = `${d}_enforce_tls`;
  if (!levelSet && !isSet(cf, useTls) && !isSet(cf, enforceTls)) {
    const tuned = [...cf.parameters.keys()].filter((k) => k.startsWith(`${d}_tls_`) && k !== levelParameter).length;
    const what = writtenEmpty
      ? `${levelParameter} is empty, so the obsolete ${useTls} and ${enforceTls} decide, and both are no: the level is none`
      : "no TLS security level is set: Postfix's default is none";
    f.add(
      'security-level-missing',
      'warning',
      levelParameter,
      d === 'smtpd'
        ? `${what}, so smtpd offers no STARTTLS at all${tuned > 0 ? ` and the ${tuned} smtpd_tls_* settings here have no effect` : ''} (unless master.cf sets a level per service)`
        : `${what}, so outbound mail never uses TLS${tuned > 0 ? ` and the ${tuned} smtp_tls_* settings here have no effect` : ''}`,
      `${levelParameter} = may`,
    );
  } else if (p.securityLevel === 'none' && levelSet) {
    f.add(
      'security-level-none',
      'warning',
      levelParameter,
      d === 'smtpd'
        ? `${levelParameter} = none: smtpd offers no STARTTLS, all inbound mail arrives in plaintext`
        : `${levelParameter} = none: outbound mail never uses TLS, even to servers that offer it (postconf(5): TLS only via smtp_tls_policy_maps)`,
      `${levelParameter} = may`,
    );
  }
  for (const problem of p.problems) {
    if (problem.parameter === levelParameter && /invalid/.test(problem.message)) {
      f.add('security-level-invalid', 'error', levelParameter, problem.message, `${levelParameter} = may`);
    } else if (problem.parameter === levelParameter && /does not support/.test(problem.message)) {
      // postconf(5) smtpd_tls_security_level, Note 1.
      f.add(
        'security-level-unsupported',
        'warning',
        levelParameter,
        `${problem.message} (postconf(5): to check client certificates use smtpd_tls_ask_ccert / permit_tls_clientcerts)`,
        `${levelParameter} = may (or encrypt on dedicated services)`,
      );
    } else if (/bad boolean/.test(problem.message)) {
      f.add('invalid-boolean', 'error', problem.parameter, problem.message, `${problem.parameter} = yes (or no)`);
    }
  }
  if (d === 'smtpd') {
    if (p.securityLevel === 'encrypt' && (levelSet || isSet(cf, enforceTls))) {
      // postconf(5): "According to RFC 2487 this MUST NOT be applied in case of a publicly-referenced Postfix SMTP
      // server." (RFC 3207 §4 says the same.)
      f.add(
        'encrypt-on-port-25',
        'warning',
        levelSet ? levelParameter : enforceTls,
        'TLS is mandatory for every smtpd service, port 25 included: RFC 3207 forbids this on a publicly-referenced MX, and clients without TLS are refused with 530 (postconf(5) smtpd_tls_security_level)',
        'smtpd_tls_security_level = may in main.cf; require TLS per service in master.cf (-o smtpd_tls_security_level=encrypt on submission)',
      );
    }
    if (value(cf, 'smtpd_tls_wrappermode').toLowerCase() === 'yes' && isSet(cf, 'smtpd_tls_wrappermode')) {
      // postconf(5) smtpd_tls_wrappermode: enable a special port in master.cf with -o.
      f.add(
        'wrappermode-in-main-cf',
        'error',
        'smtpd_tls_wrappermode',
        'smtpd_tls_wrappermode = yes in main.cf makes every smtpd service, port 25 included, expect TLS at once: ordinary SMTP clients (which send EHLO, then STARTTLS) can no longer connect',
        'remove it from main.cf; set -o smtpd_tls_wrappermode=yes on the submissions (465) service in master.cf',
      );
    }
    if (value(cf, 'smtpd_tls_req_ccert').toLowerCase() === 'yes' && p.securityLevel === 'may') {
      f.add(
        'req-ccert-without-mandatory',
        'warning',
        'smtpd_tls_req_ccert',
        'smtpd_tls_req_ccert = yes is ignored with a warning when TLS is optional (postconf(5)): it only applies with mandatory TLS',
        'remove it, or require TLS on the service that needs client certificates',
      );
    }
  } else {
    const level = p.securityLevel;
    if (['encrypt', 'fingerprint', 'verify', 'secure', 'dane-only'].includes(level) && levelSet) {
      // postconf(5) smtp_tls_security_level encrypt: "not an appropriate default for systems delivering mail to
      // the Internet".
      f.add(
        'smtp-mandatory-everywhere',
        'warning',
        levelParameter,
        `${levelParameter} = ${level} for every destination: mail to servers without (working) STARTTLS is deferred and finally bounced; postconf(5) calls this "not an appropriate default for systems delivering mail to the Internet"`,
        `${levelParameter} = may (or dane with DNSSEC); require TLS per destination in smtp_tls_policy_maps`,
      );
    }
    if ((level === 'dane' || level === 'dane-only') && value(cf, 'smtp_dns_support_level') !== 'dnssec') {
      f.add(
        'dane-without-dnssec',
        'warning',
        'smtp_dns_support_level',
        `${levelParameter} = ${level} needs DNSSEC-validated lookups, but smtp_dns_support_level is "${value(cf, 'smtp_dns_support_level')}": no TLSA record can be trusted, so no destination is ever DANE-authenticated`,
        'smtp_dns_support_level = dnssec (with a validating resolver on the host)',
      );
    }
  }
  // Obsolete booleans: postconf(5) "With Postfix 2.3 and later use smtpd_tls_security_level instead."
  const obsolete = d === 'smtpd' ? [useTls, enforceTls] : [useTls, enforceTls, 'smtp_tls_enforce_peername'];
  for (const name of obsolete) {
    if (!isSet(cf, name)) continue;
    f.add(
      'obsolete-parameter',
      'warning',
      name,
      levelSet
        ? `${name} is obsolete and ignored here: ${levelParameter} is set and overrides it`
        : `${name} is obsolete since Postfix 2.3 (postconf(5)); it still sets the level because ${levelParameter} is empty`,
      `remove ${name}; set ${levelParameter} = ${p.securityLevel === 'none' || p.securityLevel === 'invalid' ? 'may' : p.securityLevel}`,
    );
  }
}

// ------------------------------------------------------------------------------------------------- protocols

/**
 * SSLv2/SSLv3, TLS 1.0/1.1 and holes in an enabled set. `as` names the list when it is not the parameter's
 * effective value (the part of an invalid list before a '#').
 */
function checkEnabled(
  f: Findings,
  parameter: string,
  evaluation: PostfixProtocols,
  mandatory: boolean,
  role: 'server' | 'client',
  as: string | null,
  mandatoryMatters = true,
): void {
  const enabled = POLICY_PROTOCOLS.filter((v) => evaluation.enabled.has(v));
  const where = `${as ? `${as}: ` : ''}${mandatory ? 'mandatory TLS' : 'opportunistic TLS'}`;
  const floorFix = `${parameter} = >=TLSv1.2${mandatory ? '' : ' (or >=TLSv1: opportunistic TLS beats plaintext)'}`;
  if (evaluation.enabled.has('SSLv2')) {
    f.add(
      'protocols-sslv2',
      'warning',
      parameter,
      `${where} leaves SSLv2 enabled in Postfix's terms (OpenSSL ≥ 1.1 has no SSLv2; an older library would negotiate it)`,
      floorFix,
    );
  }
  if (evaluation.enabled.has('SSLv3')) {
    f.add(
      'protocols-sslv3',
      mandatory ? 'error' : 'warning',
      parameter,
      `${where} allows SSLv3 (POODLE; RFC 7568 forbids it)${mandatory ? ': where TLS is required — passwords on submission — a session can be pushed down to a broken protocol' : ''}; OpenSSL 3 has no SSLv3, older builds negotiate it`,
      floorFix,
    );
  }
  if (as === null) {
    const tls1x = enabled.filter((v) => v === 'TLSv1' || v === 'TLSv1.1');
    if (tls1x.length > 0) {
      f.add(
        'protocols-tls10-11',
        mandatory && mandatoryMatters ? 'warning' : 'info',
        parameter,
        mandatory
          ? `${where} allows ${tls1x.join(' and ')}, deprecated by RFC 8996; tlscensus whatif --min-protocol TLSv1.2 shows who still needs them`
          : `${where} allows ${tls1x.join(' and ')} (deprecated by RFC 8996, yet for opportunistic TLS still better than plaintext — tlscensus whatif shows who uses them)`,
        floorFix,
      );
    }
  }
  // Holes: an excluded version between two enabled ones ("!TLSv1" while SSLv3 stays allowed).
  const usable = enabled.filter((v) => v !== 'SSLv2');
  const lowest = usable[0];
  const highest = usable.at(-1);
  if (lowest === undefined || highest === undefined) return;
  const holes = POLICY_PROTOCOLS.filter(
    (v) =>
      protocolRank(v) > protocolRank(lowest) && protocolRank(v) < protocolRank(highest) && !evaluation.enabled.has(v),
  );
  if (holes.length === 0) return;
  const below = usable.filter((v) => protocolRank(v) < protocolRank(holes[0]!));
  const offered = [...negotiableProtocols(evaluation.enabled, 'client', { sslv3: true })];
  const next = POLICY_PROTOCOLS[POLICY_PROTOCOLS.indexOf(holes.at(-1)!) + 1] ?? 'TLSv1.2';
  f.add(
    'protocols-gap',
    'warning',
    parameter,
    `${as ? `${as}: ` : ''}inconsistent exclusions: ${holes.map((h) => `!${h}`).join(', ')} while the older ${below.join(', ')} stay${below.length === 1 ? 's' : ''} allowed — ${
      role === 'server'
        ? `a client whose best is ${holes.join('/')} fails, while even older ones still get ${below.join('/')}: the exclusion protects nothing`
        : `an OpenSSL client offers only the lowest contiguous block of versions, so this offers just ${offered.join(', ')} wherever the library still has ${below.join('/')}`
    }`,
    `${parameter} = >=${mandatory ? 'TLSv1.2' : protocolRank(next) < protocolRank('TLSv1.2') ? next : 'TLSv1.2'}`,
  );
}

function auditProtocols(f: Findings, cf: MainCf, p: PostfixTlsPolicy): void {
  const role = p.daemon === 'smtpd' ? 'server' : 'client';
  for (const which of ['opportunistic', 'mandatory'] as const) {
    const settings: PostfixTlsSettings = p[which];
    const source = settings.protocolPolicy.source;
    const parameter = source.parameter;
    const evaluation = settings.protocolPolicy.evaluation;
    const mandatory = which === 'mandatory';
    const floorFix = `${parameter} = >=TLSv1.2${mandatory ? '' : ' (or >=TLSv1: opportunistic TLS beats plaintext)'}`;
    if (!evaluation.valid) {
      const bad = evaluation.tokens.filter((t) => t.kind === 'invalid').map((t) => t.text);
      const comment = bad.some((t) => t.startsWith('#'));
      f.add(
        'protocols-invalid',
        'error',
        parameter,
        `"${source.value}" is not a valid protocol list (Postfix does not understand ${list(bad.slice(0, 6))}${bad.length > 6 ? ', …' : ''})${
          comment ? ": a '#' after a value is part of the value (postconf(5): comments are whole lines only)" : ''
        } — ${role === 'server' ? `smtpd logs "Invalid TLS protocol list" and disables TLS${mandatory ? ' wherever TLS is mandatory' : ': no STARTTLS'}` : 'the smtp client aborts every TLS session'} (tls_proto_mask_lims())`,
        comment
          ? `put the comment on a line of its own, and set a floor: ${parameter} = >=TLSv1${mandatory ? '.2' : ' (or >=TLSv1.2)'}`
          : floorFix,
      );
      if (comment) {
        // What the line meant: the text before the '#'. Its own mistakes are worth saying too.
        const intended = evaluatePostfixProtocols(source.value.slice(0, source.value.indexOf('#')));
        if (intended.valid && intended.enabled.size > 0) {
          checkEnabled(
            f,
            parameter,
            intended,
            mandatory,
            role,
            `as meant (before the '#'), "${intended.spec.trim().replace(/,$/, '')}"`,
          );
        }
      }
      continue;
    }
    const enabled = POLICY_PROTOCOLS.filter((v) => evaluation.enabled.has(v));
    if (evaluation.enabled.size === 0) {
      f.add(
        'protocols-empty',
        'error',
        parameter,
        `"${source.value}" leaves no protocol version enabled: every ${which} TLS handshake fails`,
        floorFix,
      );
      continue;
    }
    // smtpd's mandatory settings serve every service master.cf switches to encrypt (submission); smtp's only
    // destinations that require TLS, which a `may` client without policy maps has none of.
    const mandatoryMatters =
      source.origin === 'main.cf' ||
      p.daemon === 'smtpd' ||
      p.tlsRequired ||
      resolveParameter(cf, 'smtp_tls_policy_maps').expanded !== '';
    checkEnabled(f, parameter, evaluation, mandatory, role, null, mandatoryMatters);
    const where = mandatory ? 'mandatory TLS' : 'opportunistic TLS';
    const spaced = spacedOperators(evaluation);
    for (const text of spaced) {
      const [operator, version] = text.split(' ');
      f.add(
        'protocols-operator-space',
        'warning',
        parameter,
        `"${text}": Postfix splits the list at the space, so "${operator}" sets no limit and "${version}" is a version of its own, the only one enabled unless others are named (${where} allows ${POLICY_PROTOCOLS.filter((v) => evaluation.enabled.has(v)).join(', ') || 'nothing'})`,
        `${parameter} = ${operator}${version}`,
      );
    }
    if (evaluation.enabled.has('TLSv1.2') && !evaluation.enabled.has('TLSv1.3')) {
      f.add(
        'protocols-no-tls13',
        'warning',
        parameter,
        `${where} excludes TLSv1.3, the best protocol most peers speak (supported since OpenSSL 1.1.1)${
          spaced.length > 0 ? `: the space in "${spaced[0]}" is why` : ''
        }`,
        `${parameter} = >=TLSv1.2`,
      );
    }
    if (!mandatory && enabled.length === 1 && enabled[0] === 'TLSv1.3') {
      f.add(
        'protocols-tls13-only',
        'warning',
        parameter,
        'opportunistic TLS allows only TLSv1.3: peers that top out at TLS 1.2 (many MTAs) fall back to plaintext',
        `${parameter} = >=TLSv1.2`,
      );
    }
    // postconf(5) smtpd_tls_protocols: "As of Postfix 3.6, the preferred way to limit the range of acceptable
    // protocols is to set the lowest acceptable TLS protocol version". An exclusion list keeps every version it
    // does not name — SSLv3 in "!TLSv1, !SSLv2".
    const exclusionsOnly =
      source.origin === 'main.cf' &&
      evaluation.tokens.length > 0 &&
      evaluation.tokens.every((t) => t.kind === 'exclude') &&
      evaluation.valid;
    if (exclusionsOnly) {
      f.add(
        'protocols-exclusion-syntax',
        'info',
        parameter,
        `"${source.value}" uses the legacy exclusion syntax: every version it does not name stays enabled; Postfix ≥ 3.6 prefers a floor`,
        `${parameter} = >=${mandatory ? 'TLSv1.2' : protocolRank(enabled.find((v) => v !== 'SSLv2') ?? 'TLSv1') <= protocolRank('TLSv1') ? 'TLSv1' : enabled.find((v) => v !== 'SSLv2')}`,
      );
    }
  }
  // Mandatory looser than opportunistic: it accepts an older version that opportunistic TLS refuses. A newer one
  // (TLSv1.3 where opportunistic TLS stops at TLSv1.2) is not looser, and the advice is not to copy a list that
  // leaves TLS 1.3 out.
  const o = p.opportunistic.protocolPolicy.evaluation;
  const m = p.mandatory.protocolPolicy.evaluation;
  const oEnabled = POLICY_PROTOCOLS.filter((v) => o.enabled.has(v));
  const oFloor = oEnabled[0];
  const oNewest = oEnabled.at(-1);
  if (o.valid && m.valid && oFloor !== undefined && oNewest !== undefined) {
    const extra = POLICY_PROTOCOLS.filter(
      (v) => m.enabled.has(v) && !o.enabled.has(v) && protocolRank(v) < protocolRank(oNewest),
    );
    if (extra.length > 0) {
      f.add(
        'mandatory-looser',
        'warning',
        p.mandatory.protocolPolicy.source.parameter,
        `mandatory TLS accepts ${extra.join(', ')}, which opportunistic TLS (${p.opportunistic.protocolPolicy.source.parameter}) refuses: where TLS is required it should be at least as strict`,
        `${p.mandatory.protocolPolicy.source.parameter} = >=${oFloor}`,
      );
    }
  }
}

/**
 * `>= TLSv1.2`: tls_proto_mask_lims() splits on whitespace too, so this is ">=" without a version (no floor) and
 * "TLSv1.2" as the only version to include — real smtpd then offers TLSv1.2 alone. Returns the operator tokens.
 */
function spacedOperators(evaluation: PostfixProtocols): string[] {
  const tokens = evaluation.tokens;
  return tokens.flatMap((t, i) =>
    (t.text === '>=' || t.text === '<=') && tokens[i + 1]?.kind === 'include'
      ? [`${t.text} ${tokens[i + 1]!.text}`]
      : [],
  );
}

// ------------------------------------------------------------------------------------------------- ciphers

const GRADE_RANK: Record<string, number> = { null: 0, export: 1, low: 2, medium: 3, high: 4 };
const LIST_PARAMETERS = [
  'tls_high_cipherlist',
  'tls_medium_cipherlist',
  'tls_low_cipherlist',
  'tls_export_cipherlist',
  'tls_null_cipherlist',
];

/** OpenSSL 1.0.x names OpenSSL 3.0 no longer has (ssl_ciph.c cipher_aliases of 1.0.2): harmless, not typos. */
const HISTORIC_WORDS: ReadonlySet<string> = new Set([
  'EXP',
  'EXPORT',
  'EXPORT40',
  'EXPORT56',
  'LOW',
  'DES',
  'RC2',
  'RC4',
  'IDEA',
  'SEED',
  'KRB5',
  'kKRB5',
  'aKRB5',
  'kDH',
  'kDHr',
  'kDHd',
  'aDH',
  'kECDH',
  'kECDHr',
  'kECDHe',
  'aECDH',
  'FZA',
  'kFZA',
  'aFZA',
  'eFZA',
  'GOST94',
  'GOST89MAC',
  'kGOST',
  'aGOST',
  'aGOST94',
  'aGOST01',
  'SSLv2',
]);

const SUITE_NAMES: ReadonlySet<string> = new Set(CIPHER_SUITES.flatMap((s) => (s.openssl !== null ? [s.openssl] : [])));

/** Cipher words a typo is most likely meant to be. */
const COMMON_WORDS = [
  'aNULL',
  'eNULL',
  'NULL',
  'EXPORT',
  'LOW',
  'MEDIUM',
  'HIGH',
  'DES',
  '3DES',
  'RC4',
  'RC2',
  'MD5',
  'SHA1',
  'PSK',
  'SRP',
  'DSS',
  'aDSS',
  'ADH',
  'AECDH',
  'IDEA',
  'SEED',
  'CAMELLIA',
  'ARIA',
  'ECDSA',
  'aECDSA',
  'kEDH',
  'kDHE',
  'kECDHE',
  'EDH',
  'EECDH',
  'AESGCM',
  'CHACHA20',
];

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + cost);
    }
  }
  return dp[a.length]![b.length]!;
}

function suggestion(word: string): string | null {
  if (word.length < 3) return null;
  const close = COMMON_WORDS.filter((w) => w !== word && editDistance(w, word) === 1);
  return close[0] ?? null;
}

interface TokenUse {
  readonly parameter: string;
  readonly element: CipherStringElement;
  /** The evaluator's note on it, when it made one. */
  readonly warning: string | null;
}

/** The elements of an evaluated Postfix cipher string, each with the parameter that contributed it. */
function tokenUses(c: PostfixCipherPolicy): TokenUse[] {
  if (c.cipherString === null || c.listSource === null) return [];
  const evaluation = c.evaluation;
  const n = c.exclusions.length;
  const elements = evaluation.elements;
  const listCount = elements.length - n;
  return elements.map((element, i) => {
    const parameter = i < listCount ? c.listSource!.parameter : (c.exclusions[i - listCount]?.parameter ?? '?');
    const warning = evaluation.warnings.find((w) => w.startsWith(`"${element.text}"`)) ?? null;
    return { parameter, element, warning };
  });
}

/** The token comes from a `$other` the parameter expands: it is reported for `other`, where it is written. */
function fromReference(cf: MainCf, parameter: string, word: string): boolean {
  const raw = cf.parameters.get(parameter)?.raw ?? '';
  // $name, ${name}, $(name), and with whitespace inside the braces as mac_expand allows: "${ name }".
  for (const m of raw.matchAll(/\$(?:[{(][ \t\r\n]*)?([A-Za-z0-9_]+)/g)) {
    const referenced = resolveParameter(cf, m[1]!).expanded.split(/[:,;\s]+/);
    if (referenced.includes(word)) return true;
  }
  return false;
}

function wordOf(text: string): string {
  return text.replace(/^[!+\-@]/, '');
}

function auditCipherTokens(f: Findings, cf: MainCf, policies: PostfixTlsPolicy[], explained: Set<string>): void {
  // Each (parameter, token) once, from the first evaluation that contains it (opportunistic before mandatory).
  const seen = new Map<string, TokenUse>();
  for (const p of policies) {
    for (const settings of [p.opportunistic, p.mandatory]) {
      for (const use of tokenUses(settings.cipherPolicy)) {
        // Built-in exclusions Postfix adds itself (aNULL/eNULL for the level) are not the admin's.
        if (use.parameter.endsWith('_security_level') || use.parameter.endsWith('_ccert')) continue;
        // Postfix's own defaults ("+RC4" in the medium list) are not the admin's to fix.
        if (!isSet(cf, use.parameter)) continue;
        const key = `${use.parameter}|${use.element.text}`;
        if (explained.has(`${use.parameter}|${wordOf(use.element.text)}`)) continue;
        if (fromReference(cf, use.parameter, wordOf(use.element.text))) continue;
        if (!seen.has(key)) seen.set(key, use);
      }
    }
  }
  const byParameter = new Map<string, TokenUse[]>();
  for (const use of seen.values()) {
    const uses = byParameter.get(use.parameter) ?? [];
    uses.push(use);
    byParameter.set(use.parameter, uses);
  }
  for (const [parameter, uses] of byParameter) {
    const typos: TokenUse[] = [];
    const missing: TokenUse[] = [];
    const noMatch: TokenUse[] = [];
    const redundant: TokenUse[] = [];
    const contradictory: TokenUse[] = [];
    for (const use of uses) {
      const word = wordOf(use.element.text);
      switch (use.element.status) {
        case 'unknown':
          if (
            (use.warning !== null && /not available in this OpenSSL build/.test(use.warning)) ||
            word.split('+').every((w) => HISTORIC_WORDS.has(w) || SUITE_NAMES.has(w))
          )
            missing.push(use);
          else typos.push(use);
          break;
        case 'no-match':
          noMatch.push(use);
          break;
        case 'redundant':
          redundant.push(use);
          break;
        case 'contradictory':
          contradictory.push(use);
          break;
        default:
          break;
      }
    }
    const texts = (xs: TokenUse[]) => list(xs.map((x) => x.element.text));
    if (typos.length > 0) {
      const hints = typos
        .map((t) => {
          const w = wordOf(t.element.text);
          const present = new Set(uses.map((u) => wordOf(u.element.text)));
          const s = suggestion(w);
          if (s !== null && present.has(s)) return null;
          return s ? `${w} → ${s}?` : null;
        })
        .filter((x): x is string => x !== null);
      f.add(
        'cipherlist-unknown-token',
        'warning',
        parameter,
        `OpenSSL knows no cipher name ${texts(typos)} and skips ${typos.length === 1 ? 'it' : 'them'} silently: whatever ${typos.length === 1 ? 'it was' : 'they were'} meant to exclude stays in`,
        `correct or remove ${typos.length === 1 ? 'it' : 'them'}${hints.length > 0 ? ` (${hints.join(', ')})` : ''}; check with: openssl ciphers -v '<list>'`,
      );
    }
    if (contradictory.length > 0) {
      f.add(
        'cipherlist-contradictory-token',
        'warning',
        parameter,
        `${texts(contradictory)} combine properties no suite has at once: OpenSSL skips ${contradictory.length === 1 ? 'it' : 'them'}`,
        'split the element, or remove it',
      );
    }
    const ineffective = [...missing, ...noMatch];
    if (ineffective.length > 0 || redundant.length > 0) {
      const parts: string[] = [];
      if (ineffective.length > 0) {
        parts.push(
          `${texts(ineffective)} match${ineffective.length === 1 ? 'es' : ''} no suite of OpenSSL 3.0 (removed from OpenSSL, or not built on Debian): harmless, ${ineffective.length === 1 ? 'it matters' : 'they matter'} only with older libraries`,
        );
      }
      if (redundant.length > 0) {
        parts.push(`${texts(redundant)} ${redundant.length === 1 ? 'is' : 'are'} already excluded earlier in the list`);
      }
      f.add(
        'cipherlist-ineffective-token',
        'info',
        parameter,
        parts.join('; '),
        'nothing needed; remove them for clarity (Postfix appends each exclusion as ":!token")',
      );
    }
  }
}

/** Whether OpenSSL (any version since 1.0) knows `word` as a cipher name or property. */
function isKnownWord(word: string): boolean {
  if (HISTORIC_WORDS.has(word) || SUITE_NAMES.has(word)) return true;
  const r = evaluateOpensslCipherString(word, { build: OPENSSL_3_0_DEBIAN });
  const status = r.elements[0]?.status;
  return status !== undefined && (status !== 'unknown' || r.warnings.some((w) => /not available/.test(w)));
}

/**
 * `CAMELLIA128 -SHA` or `KRB5-DES, CBC3-SHA`: one suite name split in two by a separator. Returns the
 * `parameter|token` keys it explained, so that the unknown-token rule does not report them again.
 */
function auditSplitNames(f: Findings, cf: MainCf): Set<string> {
  const explained = new Set<string>();
  const candidates = [
    ...LIST_PARAMETERS,
    'smtpd_tls_exclude_ciphers',
    'smtpd_tls_mandatory_exclude_ciphers',
    'smtp_tls_exclude_ciphers',
    'smtp_tls_mandatory_exclude_ciphers',
  ];
  for (const parameter of candidates) {
    const set = cf.parameters.get(parameter);
    if (!set || set.expanded === null) continue;
    // Only the admin's own text: an expanded `${other}` is reported where it is written.
    if (set.raw.includes('$')) continue;
    // Each token with where it ends: the same word can come twice ("+CAMELLIA128 … CAMELLIA128 -SHA").
    const tokens = [...set.expanded.matchAll(/[^:,;\s]+/g)].map((m) => ({ text: m[0], end: m.index + m[0].length }));
    for (let i = 0; i + 1 < tokens.length; i++) {
      const a = tokens[i]!.text;
      const b = tokens[i + 1]!.text;
      const bare = wordOf(a);
      const joined = [`${bare}${b}`, `${bare}-${b}`].find((name) => SUITE_NAMES.has(name));
      if (!joined || SUITE_NAMES.has(bare)) continue;
      // "RC4, MD5" are two good words that happen to form RC4-MD5; "-SHA" after a name is an operator.
      const operatorSplit = /^[-+]/.test(b);
      if (!operatorSplit && (isKnownWord(bare) || isKnownWord(wordOf(b)))) continue;
      let effect = '';
      if (operatorSplit && LIST_PARAMETERS.includes(parameter)) {
        const before = set.expanded.slice(0, tokens[i]!.end);
        const prefix = evaluateOpensslCipherString(before, { build: OPENSSL_3_0_DEBIAN }).ciphers;
        const removed = prefix.filter((x) => x.mac === 'SHA1').length;
        effect =
          b === '-SHA' || b === '-SHA1'
            ? `: "${b}" then deletes every SHA-1 suite the list added before it (${removed} on OpenSSL 3.0), and only later elements add any back`
            : `: "${b}" acts as an element of its own`;
      }
      explained.add(`${parameter}|${bare}`);
      explained.add(`${parameter}|${wordOf(b)}`);
      f.add(
        'cipherlist-split-name',
        'warning',
        parameter,
        `"${a}" and "${b}" are read as two elements (whitespace, commas and colons all separate)${effect}; ${joined} was probably meant`,
        `write ${joined} as one word (or drop it)`,
      );
    }
  }
  return explained;
}

function auditCiphers(f: Findings, cf: MainCf, policies: PostfixTlsPolicy[]): void {
  for (const p of policies) {
    for (const which of ['opportunistic', 'mandatory'] as const) {
      const c = p[which].cipherPolicy;
      const gp = c.gradeSource.parameter;
      for (const problem of p.problems) {
        if (problem.parameter === gp && /invalid cipher grade/.test(problem.message)) {
          f.add('cipher-grade-invalid', 'error', gp, problem.message, `${gp} = medium`);
        } else if (/invalid unary/.test(problem.message) && problem.severity === 'error') {
          f.add(
            'cipher-exclusion-invalid',
            'error',
            problem.parameter,
            `${problem.message} (postconf(5): exclusions are plain cipher names or properties, Postfix adds the "!" itself)`,
            `drop the leading '!', '+', '-' or '@' from the tokens of ${problem.parameter}`,
          );
        } else if (/OpenSSL rejects/.test(problem.message)) {
          f.add(
            'cipher-list-rejected',
            'error',
            problem.parameter,
            problem.message,
            'fix the list or the exclusions until `openssl ciphers -v` accepts it',
          );
        }
      }
      if (c.grade === null) continue;
      if (c.grade === 'null') {
        f.add(
          'cipher-grade-weak',
          'error',
          gp,
          `${gp} = null: only NULL ciphers, which authenticate but do not encrypt at all`,
          `${gp} = medium`,
        );
      } else if (c.grade === 'low' || c.grade === 'export') {
        // postconf(5) smtpd_tls_mandatory_ciphers: "This choice is insecure and SHOULD NOT be used."
        f.add(
          'cipher-grade-weak',
          'warning',
          gp,
          `${gp} = ${c.grade}: postconf(5) calls this grade insecure ("SHOULD NOT be used"); with OpenSSL 3 it adds nothing, with older libraries 40/56-bit suites`,
          `${gp} = medium`,
        );
      }
      if (which === 'opportunistic' && c.grade === 'high') {
        // postconf(5) smtp_tls_security_level may: "demanding stronger than default TLS security merely reduces
        // interoperability"; smtpd_tls_mandatory_ciphers: insisting on "high" is "generally counter-productive".
        f.add(
          'cipher-grade-high-opportunistic',
          'warning',
          gp,
          p.daemon === 'smtp'
            ? `${gp} = high for opportunistic outbound TLS: a server that shares only medium-grade suites with us fails the handshake, and Postfix then retries in plaintext — weak encryption is traded for none (postconf(5): "demanding stronger than default TLS security merely reduces interoperability")`
            : `${gp} = high for opportunistic inbound TLS: clients that share only medium-grade suites fail STARTTLS and most then send in plaintext (postconf(5): insisting on "high" is "generally counter-productive")`,
          `${gp} = medium (the default); exclude specific suites with ${p.daemon}_tls_exclude_ciphers if needed`,
        );
      }
    }
    const o = p.opportunistic.cipherPolicy;
    const m = p.mandatory.cipherPolicy;
    if (o.grade !== null && m.grade !== null && GRADE_RANK[m.grade]! < GRADE_RANK[o.grade]!) {
      f.add(
        'mandatory-looser',
        'warning',
        m.gradeSource.parameter,
        `mandatory TLS uses the weaker "${m.grade}" grade while opportunistic TLS uses "${o.grade}": where TLS is required it should be at least as strict`,
        `${m.gradeSource.parameter} = ${o.grade}`,
      );
    }
  }
  // Overridden built-in lists. postconf(5) tls_high_cipherlist: "You are strongly encouraged not to change this
  // setting." (the same for medium, low, export, null).
  for (const parameter of LIST_PARAMETERS) {
    if (!isSet(cf, parameter)) continue;
    const grade = parameter.slice('tls_'.length, -'_cipherlist'.length);
    const users = policies.flatMap((p) =>
      (['opportunistic', 'mandatory'] as const)
        .filter((w) => p[w].cipherPolicy.grade === grade)
        .map((w) => p[w].cipherPolicy.gradeSource.parameter),
    );
    f.add(
      'cipherlist-overridden',
      'warning',
      parameter,
      users.length > 0
        ? `${parameter} replaces Postfix's built-in "${grade}" list, which postconf(5) strongly advises not to change: a hand-made list does not follow OpenSSL updates (new suites, removed ones) and here governs ${[...new Set(users)].join(', ')}`
        : `${parameter} is set but no setting uses the "${grade}" grade: it has no effect (and postconf(5) strongly advises not to change it)`,
      `remove ${parameter}; restrict with *_tls_protocols and *_tls_exclude_ciphers instead`,
    );
    const raw = value(cf, parameter);
    if (/(^|[:,\s])!a?ECDSA([:,\s]|$)/.test(raw)) {
      f.add(
        'cipherlist-excludes-ecdsa',
        'info',
        parameter,
        `${parameter} excludes ECDSA-authenticated suites: an ECDSA certificate (smtpd_tls_eccert_file, smtpd_tls_chain_files) could never be used for TLS ≤ 1.2`,
        'remove "!ECDSA" (OpenSSL only picks suites that match the certificate anyway)',
      );
    }
    if (users.length > 0 && value(cf, 'tls_preempt_cipherlist').toLowerCase() !== 'yes') {
      f.add(
        'cipher-order-ignored',
        'info',
        parameter,
        `the order of ${parameter} does not decide anything for smtpd: with tls_preempt_cipherlist = no (the default) the server takes the client's favourite among its suites (postconf(5) tls_preempt_cipherlist)`,
        'order the list only if you also set tls_preempt_cipherlist = yes (and accept its interoperability risk)',
      );
    }
  }
  for (const parameter of [
    ...LIST_PARAMETERS,
    'smtpd_tls_exclude_ciphers',
    'smtpd_tls_mandatory_exclude_ciphers',
    'smtp_tls_exclude_ciphers',
    'smtp_tls_mandatory_exclude_ciphers',
  ]) {
    if (!isSet(cf, parameter)) continue;
    const tls13 = value(cf, parameter)
      .split(/[:,;\s]+/)
      .map(wordOf)
      .filter((t) => /^TLS_(AES|CHACHA20)/.test(t));
    if (tls13.length > 0) {
      f.add(
        'tls13-suites-in-cipherlist',
        'info',
        parameter,
        `${list(tls13)}: TLS 1.3 suites are not configured by cipher lists; Postfix leaves them to OpenSSL's defaults (Ciphersuites in openssl.cnf)`,
        'remove them from the list',
      );
    }
  }
  if (value(cf, 'tls_preempt_cipherlist').toLowerCase() === 'yes') {
    f.add(
      'preempt-cipherlist',
      'info',
      'tls_preempt_cipherlist',
      'the server chooses the suite from its own order: fine with a well-ordered list, but postconf(5) warns of interoperability problems with clients that list suites they implement badly (Windows 2003 Exchange and DES-CBC3-SHA)',
      'keep it only with the default lists or a list you test; otherwise tls_preempt_cipherlist = no',
    );
  }
}

// ------------------------------------------------------------------------------------------------- the rest

const TLS_SSL_OPTIONS = new Set([
  'ENABLE_MIDDLEBOX_COMPAT',
  'LEGACY_SERVER_CONNECT',
  'NO_TICKET',
  'NO_COMPRESSION',
  'NO_RENEGOTIATION',
  'NO_SESSION_RESUMPTION_ON_RENEGOTIATION',
  'PRIORITIZE_CHACHA',
  'ENABLE_KTLS',
  'NO_EXTENDED_MASTER_SECRET',
  'NO_QUERY_MTU',
]);

/** The policy's security level comes from main.cf (not Postfix's default): an excerpt may leave it out. */
function levelFromMainCf(p: PostfixTlsPolicy): boolean {
  return p.levelSources.some((s) => s.origin === 'main.cf');
}

function auditMisc(f: Findings, cf: MainCf, inbound: PostfixTlsPolicy): void {
  for (const daemon of ['smtpd', 'smtp'] as const) {
    const parameter = `${daemon}_tls_loglevel`;
    const raw = value(cf, parameter);
    // A list of names and numbers, read by tls_log_mask() (postfix-tls-log-level.ts): never fatal.
    const level = parseTlsLogLevel(raw);
    const shown = `${parameter} = ${raw === '' ? '(empty)' : raw}`;
    const what = daemon === 'smtpd' ? 'of inbound mail (only "starttls=1")' : 'of outbound mail';
    if (level.unknown.length > 0) {
      f.add(
        'loglevel-invalid',
        'warning',
        parameter,
        `${shown}: Postfix knows no log level ${list(level.unknown)}; it warns ("unknown ${parameter} value") and then logs no TLS activity at all, so neither you nor tlscensus can see protocols and ciphers ${what}`,
        `${parameter} = 1`,
      );
    } else if (!level.summary) {
      // postconf(5) smtpd_tls_loglevel: "0 Disable logging of TLS activity."; the other names log details only.
      f.add(
        'loglevel-zero',
        'warning',
        parameter,
        `${shown}${isSet(cf, parameter) ? '' : ' (the default)'}: Postfix logs no TLS handshake${level.none ? ' at all' : ' summary'}, so neither you nor tlscensus can see protocols and ciphers ${what}`,
        `${parameter} = 1`,
      );
    } else if (level.verbose) {
      f.add(
        'loglevel-verbose',
        'info',
        parameter,
        `${shown}: postconf(5) says "Do not use 2 or higher except in case of problems"; the summary line tlscensus needs comes with 1 (routine)`,
        `${parameter} = 1`,
      );
    }
  }
  // postconf(5) smtpd_tls_auth_only: no AUTH over unencrypted connections — so no AUTH where TLS is never offered.
  if (value(cf, 'smtpd_tls_auth_only').toLowerCase() === 'yes' && isSet(cf, 'smtpd_tls_auth_only')) {
    const why: string[] = [];
    if (inbound.securityLevel === 'none') why.push('the TLS security level is none');
    if (!inbound.opportunistic.protocolPolicy.evaluation.valid) {
      why.push(`${inbound.opportunistic.protocolPolicy.source.parameter} is invalid, so smtpd disables TLS`);
    } else if (!inbound.opportunistic.cipherPolicy.valid) why.push('the opportunistic cipher settings are invalid');
    if (why.length > 0) {
      f.add(
        'auth-only-without-tls',
        'warning',
        'smtpd_tls_auth_only',
        `smtpd_tls_auth_only = yes announces AUTH only after STARTTLS, but main.cf offers no STARTTLS (${why.join('; ')}): only services that master.cf switches to TLS (submission with -o smtpd_tls_security_level=encrypt) can authenticate`,
        'make TLS work in main.cf (smtpd_tls_security_level = may, a valid smtpd_tls_protocols), or require TLS on submission in master.cf',
      );
    }
  }
  // postconf(5) smtpd_tls_auth_only: without it (or TLS required) AUTH is offered before STARTTLS, and a client may
  // send its password in plaintext. (master.cf's services: audit-master-cf.ts.)
  // With smtpd_sasl_security_options = noplaintext no mechanism that sends the password in the clear is offered
  // before TLS (SASL_README).
  if (
    isSet(cf, 'smtpd_sasl_auth_enable') &&
    value(cf, 'smtpd_sasl_auth_enable').toLowerCase() === 'yes' &&
    value(cf, 'smtpd_tls_auth_only').toLowerCase() !== 'yes' &&
    value(cf, 'smtpd_tls_wrappermode').toLowerCase() !== 'yes' &&
    inbound.securityLevel !== 'encrypt' &&
    !/\bnoplaintext\b/.test(value(cf, 'smtpd_sasl_security_options'))
  ) {
    f.add(
      'auth-before-starttls',
      'warning',
      'smtpd_sasl_auth_enable',
      `SASL AUTH is offered before STARTTLS (smtpd_sasl_auth_enable = yes, TLS ${inbound.securityLevel === 'none' ? 'off' : `at level ${inbound.securityLevel}`}, smtpd_tls_auth_only = no) on every smtpd service that master.cf does not change: a client can send its password in plaintext`,
      'smtpd_tls_auth_only = yes (or AUTH only on submission, with -o smtpd_tls_security_level=encrypt there)',
    );
  }
  // smtpd.c pre_jail_init(): without any certificate "No server certs available. TLS won't be enabled".
  const certs = ['smtpd_tls_cert_file', 'smtpd_tls_eccert_file', 'smtpd_tls_dcert_file', 'smtpd_tls_chain_files'];
  if (
    (inbound.securityLevel === 'may' || inbound.securityLevel === 'encrypt') &&
    levelFromMainCf(inbound) &&
    certs.every((c) => value(cf, c).trim() === '')
  ) {
    f.add(
      'no-server-certificate',
      'warning',
      'smtpd_tls_chain_files',
      'TLS is enabled but no server certificate is configured: smtpd logs "No server certs available. TLS won\'t be enabled" and offers no STARTTLS',
      'smtpd_tls_chain_files = /etc/postfix/key-and-chain.pem (or smtpd_tls_cert_file and smtpd_tls_key_file)',
    );
  }
  // postconf(5) smtpd_tls_dh1024_param_file: with Postfix >= 3.7 and OpenSSL 3, empty or "auto" lets OpenSSL
  // choose; "custom local parameters are no longer recommended".
  const dh = value(cf, 'smtpd_tls_dh1024_param_file');
  if (isSet(cf, 'smtpd_tls_dh1024_param_file') && dh !== '' && dh !== 'auto') {
    f.add(
      'dh-params-custom',
      'info',
      'smtpd_tls_dh1024_param_file',
      'custom DH parameters: with Postfix ≥ 3.7 and OpenSSL 3 postconf(5) no longer recommends them — "auto" lets OpenSSL pick standard groups per handshake (make sure a custom file is at least 2048 bits)',
      'smtpd_tls_dh1024_param_file = auto (or remove it)',
    );
  }
  // Parameters Postfix 3.6+ ignores (postconf(5)).
  const ignored: Record<string, string> = {
    smtpd_tls_dh512_param_file: 'export-grade DH is gone; "ignored in Postfix 3.6 and later"',
    smtpd_tls_eecdh_grade: 'as of Postfix 3.6 "always ignored", Postfix behaves as if it were "auto"',
    tls_eecdh_strong_curve: 'used only with smtpd_tls_eecdh_grade = strong, which Postfix 3.6+ ignores',
    tls_eecdh_ultra_curve: 'used only with smtpd_tls_eecdh_grade = ultra, which Postfix 3.6+ ignores',
  };
  for (const [parameter, why] of Object.entries(ignored)) {
    if (isSet(cf, parameter)) {
      f.add('ignored-parameter', 'info', parameter, `${parameter} has no effect: ${why}`, `remove ${parameter}`);
    }
  }
  if (isSet(cf, 'tls_ssl_options')) {
    const options = value(cf, 'tls_ssl_options')
      .split(/[,\s]+/)
      .filter((o) => o !== '');
    const unknown = options.filter((o) => !/^0x[0-9a-f]+$/i.test(o) && !TLS_SSL_OPTIONS.has(o.toUpperCase()));
    if (unknown.length > 0) {
      f.add(
        'tls-ssl-options-unknown',
        'warning',
        'tls_ssl_options',
        `${list(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not among the options postconf(5) lists for tls_ssl_options (protocols and server preference cannot be set here)`,
        'remove them; disable protocols with *_tls_protocols',
      );
    }
  }
}

/** What the cipher lists leave for the TLS < 1.2 versions the protocol lists still enable. */
function auditLegacySuites(f: Findings, policies: PostfixTlsPolicy[]): void {
  for (const p of policies) {
    for (const which of ['opportunistic', 'mandatory'] as const) {
      const s = p[which];
      if (!s.valid) continue;
      const legacy = POLICY_PROTOCOLS.filter((v) => v !== 'TLSv1.2' && v !== 'TLSv1.3' && s.protocols.has(v));
      if (legacy.length === 0) continue;
      // PSK and SRP suites need credentials a mail server never has.
      const suites = s.ciphers.filter(
        (c) => (c.minProtocol === 'SSLv3' || c.minProtocol === 'TLSv1') && !/PSK|SRP/.test(c.kx),
      );
      const parameter = s.cipherPolicy.gradeSource.parameter;
      const names = suites.map((c) => c.openssl ?? c.iana ?? c.code);
      if (suites.length === 0) {
        f.add(
          'cipherlist-legacy-suites',
          'warning',
          parameter,
          `${s.protocolPolicy.source.parameter} enables ${legacy.join(', ')}, but the ${s.cipherPolicy.grade} list has no suite that works below TLS 1.2: those handshakes fail anyway`,
          `${s.protocolPolicy.source.parameter} = >=TLSv1.2, or keep suites for them`,
        );
      } else if (suites.every((c) => !c.pfs)) {
        f.add(
          'cipherlist-legacy-suites',
          'info',
          parameter,
          `peers on ${legacy.join('/')} get only ${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''} from the ${s.cipherPolicy.grade} list (${which}): no forward secrecy`,
          `allow ECDHE/DHE suites with SHA-1 for them, or ${s.protocolPolicy.source.parameter} = >=TLSv1.2`,
        );
      }
    }
  }
}

/**
 * A certificate check needs trust anchors (postfix-tls-policy.ts trustAnchors: none by default), or nothing
 * verifies: at level verify or secure every delivery is deferred ("Server certificate not verified", as the
 * integration suite's real Postfix logs it), and with smtpd_tls_req_ccert every client is refused. A warning,
 * like no-server-certificate: a main.cf excerpt may leave the anchors out.
 */
function auditTrustAnchors(f: Findings, cf: MainCf, inbound: PostfixTlsPolicy, outbound: PostfixTlsPolicy): void {
  // The settings that make the level (smtp_tls_security_level, or the obsolete smtp_enforce_tls and kin).
  const levelFrom = (p: PostfixTlsPolicy) =>
    p.levelSources
      .filter((s) => s.origin === 'main.cf')
      .map((s) => `${s.parameter} = ${s.value}`)
      .join(', ');
  const level = outbound.securityLevel;
  if (
    (level === 'verify' || level === 'secure') &&
    levelFromMainCf(outbound) &&
    trustAnchors(cf, 'smtp').length === 0
  ) {
    f.add(
      'no-trust-anchors',
      'warning',
      'smtp_tls_CAfile',
      `${levelFrom(outbound)} makes the smtp client verify every server's certificate (level ${level}), but no trust anchors are configured (smtp_tls_CAfile, smtp_tls_CApath and smtp_tls_trust_anchor_file are empty; tls_append_default_CA adds the system's CAs only to a CAfile or CApath): no certificate verifies, and all mail is deferred with "Server certificate not verified"`,
      'smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt (the ca-certificates package; a CApath must also be inside the chroot, postconf(5))',
    );
  }
  if (
    inbound.securityLevel === 'encrypt' &&
    value(cf, 'smtpd_tls_req_ccert').toLowerCase() === 'yes' &&
    levelFromMainCf(inbound) &&
    trustAnchors(cf, 'smtpd').length === 0
  ) {
    f.add(
      'no-trust-anchors',
      'warning',
      'smtpd_tls_CAfile',
      'smtpd_tls_req_ccert = yes requires a trusted client certificate, but no trust anchors are configured (smtpd_tls_CAfile and smtpd_tls_CApath are empty): no client certificate verifies, and every client is refused',
      "smtpd_tls_CAfile = the certificate of the CA that issues your clients' certificates",
    );
  }
}

/** Lints the TLS settings of a parsed main.cf. Never throws. Findings are sorted error → info, then by line. */
export function auditMainCf(cf: MainCf): Finding[] {
  const f = new Findings(cf);
  for (const d of cf.diagnostics) {
    f.add(
      'main-cf-syntax',
      d.severity,
      d.parameter ?? (d.line !== null ? `line ${d.line}` : 'main.cf'),
      d.message,
      d.severity === 'error'
        ? 'fix the line: Postfix stops with a fatal error on it'
        : 'remove the duplicate or stray line',
    );
  }
  // The machine's library: Debian 12's OpenSSL 3.0 (at the security level Postfix sets: postfixSecurityLevel).
  const { inbound, outbound } = derivePostfixTlsPolicies(cf, { build: OPENSSL_3_0_DEBIAN });
  const policies = [inbound, outbound];
  for (const p of policies) auditLevels(f, cf, p);
  for (const p of policies) auditProtocols(f, cf, p);
  auditCiphers(f, cf, policies);
  const explained = auditSplitNames(f, cf);
  auditCipherTokens(f, cf, policies, explained);
  auditLegacySuites(f, policies);
  auditMisc(f, cf, inbound);
  auditTrustAnchors(f, cf, inbound, outbound);
  return sortFindings(f.all);
}

/** Errors first, then warnings, then infos; main.cf's before master.cf's (audit-master-cf.ts), each by line. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const file = (f: Finding) => (f.file === 'master.cf' ? 1 : 0);
  return findings
    .map((finding, i) => ({ finding, i }))
    .sort(
      (a, b) =>
        rank(a.finding.severity) - rank(b.finding.severity) ||
        file(a.finding) - file(b.finding) ||
        (a.finding.line ?? 1e9) - (b.finding.line ?? 1e9) ||
        a.i - b.i,
    )
    .map(({ finding }) => finding);
}
