// The audit of master.cf (`audit --main-cf F`, with the master.cf beside it or `--master-cf`): what Postfix stops
// on in the file; the main.cf rules run again on each smtpd service and smtp transport with its `-o` overrides
// applied (the findings main.cf does not have already, and only about settings the entry uses: an smtpd that
// requires TLS uses the *_mandatory_* protocols and ciphers, one that does not the others, postconf(5)); the
// overrides that have no effect there; and what only makes sense per entry, evaluated on every smtpd entry:
// required TLS or wrapper mode on port 25, and AUTH offered before STARTTLS. Those three replace main.cf's own
// findings of the same kind, which cannot see what master.cf changes (a review: main.cf's encrypt-on-port-25
// stood while master.cf set port 25 back to may).

import { auditMainCf, type Finding, sortFindings } from './audit.js';
import type { MainCf } from './main-cf.js';
import {
  isServiceDisabled,
  listensOnLoopback,
  type MasterCf,
  type MasterCfService,
  serviceMainCf,
} from './master-cf.js';
import { OPENSSL_3_0_DEBIAN } from './openssl-cipher-string.js';
import { derivePostfixTlsPolicies, isPostfixYes } from './postfix-tls-policy.js';

/**
 * main.cf rules about every smtpd service or every destination at once: per entry they mean something else
 * (encrypt on submission is right, and a transport that requires TLS serves only the destinations routed to it);
 * the per-entry rules below say port 25's and AUTH's cases. mandatory-looser compares the settings for required
 * and for optional TLS, of which an entry uses one kind only.
 */
const MAIN_CF_WIDE_RULES: ReadonlySet<string> = new Set([
  'mandatory-looser',
  'encrypt-on-port-25',
  'wrappermode-in-main-cf',
  'smtp-mandatory-everywhere',
  'auth-before-starttls',
  'main-cf-syntax',
]);

/** main.cf's findings that the per-entry rules replace when master.cf is read. */
export const REPLACED_BY_MASTER_CF: ReadonlySet<string> = new Set([
  'encrypt-on-port-25',
  'wrappermode-in-main-cf',
  'auth-before-starttls',
]);

/** Settings used only where TLS is optional, and only where it is required (postconf(5)). */
const OPPORTUNISTIC_ONLY = ['tls_protocols', 'tls_ciphers'];
const MANDATORY_ONLY = ['tls_mandatory_protocols', 'tls_mandatory_ciphers', 'tls_mandatory_exclude_ciphers'];

/** Whether an smtpd entry takes port 25's mail: `smtp`, `25`, `host:smtp`, `host:25`, or postscreen's `pass`. */
function isPort25(service: MasterCfService): boolean {
  if (service.type === 'pass') return true;
  if (service.type !== 'inet') return false;
  const port = service.name.slice(service.name.lastIndexOf(':') + 1);
  return port === 'smtp' || port === '25';
}

function finding(
  service: MasterCfService,
  id: string,
  severity: Finding['severity'],
  parameter: string,
  message: string,
  fix: string,
): Finding {
  return {
    id,
    severity,
    parameter,
    message: `master.cf ${service.name} (${service.type}): ${message}`,
    fix,
    line: service.line,
    file: 'master.cf',
    service: service.name,
  };
}

/** Findings about master.cf; `mainFindings` are main.cf's own (auditMainCf), which these do not repeat. */
export function auditMasterCf(cf: MainCf, master: MasterCf, mainFindings: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  for (const d of master.diagnostics) {
    out.push({
      id: 'master-cf-syntax',
      severity: d.severity,
      parameter: d.parameter ?? 'master.cf',
      message: d.message,
      fix: d.severity === 'error' ? 'fix the entry: Postfix stops with a fatal error on it' : 'remove the stray line',
      line: d.line,
      file: 'master.cf',
    });
  }
  const known = new Set(mainFindings.map((f) => `${f.id}|${f.parameter}|${f.message}`));
  for (const service of master.services) {
    if ((service.command !== 'smtpd' && service.command !== 'smtp') || isServiceDisabled(cf, service)) continue;
    const effective = serviceMainCf(cf, service);
    /** Overrides Postfix would stop on: their other findings would only be about the broken value. */
    const broken = new Set<string>();
    for (const d of effective.diagnostics) {
      if (d.severity === 'error' && d.parameter !== null) broken.add(d.parameter);
      if (d.severity !== 'error' && !/tls/.test(d.parameter ?? '')) continue;
      out.push(
        finding(service, 'master-cf-syntax', d.severity, d.parameter ?? 'master.cf', d.message, 'fix the -o value'),
      );
    }
    const daemon = service.command;
    const policy = derivePostfixTlsPolicies(effective, { build: OPENSSL_3_0_DEBIAN })[
      daemon === 'smtpd' ? 'inbound' : 'outbound'
    ];
    const level: string = policy.securityLevel;
    const required =
      daemon === 'smtpd'
        ? level === 'encrypt' || isPostfixYes(effective.parameters.get('smtpd_tls_wrappermode')?.expanded ?? '')
        : !['none', 'may', 'dane', 'invalid'].includes(level);
    /** Settings this entry does not use: a finding about one says nothing about its TLS. (dane uses both.) */
    const unused = new Set(
      level === 'dane' ? [] : (required ? OPPORTUNISTIC_ONLY : MANDATORY_ONLY).map((suffix) => `${daemon}_${suffix}`),
    );
    // A transport's TLS off is its purpose (a content filter's), and so is a loopback listener's.
    const deliberateNone = daemon === 'smtp' || listensOnLoopback(service);
    for (const f of auditMainCf(effective)) {
      if (MAIN_CF_WIDE_RULES.has(f.id) || broken.has(f.parameter) || unused.has(f.parameter)) continue;
      if (f.id === 'security-level-none' && deliberateNone) continue;
      if (known.has(`${f.id}|${f.parameter}|${f.message}`)) continue;
      out.push(finding(service, f.id, f.severity, f.parameter, f.message, asOverride(f.fix)));
    }
    for (const o of service.overrides) {
      if (!unused.has(o.name)) continue;
      out.push(
        finding(
          service,
          'override-unused',
          'info',
          o.name,
          `-o ${o.name} has no effect here: ${required ? `TLS is required on this entry, so Postfix uses ${o.name.replace('_tls_', '_tls_mandatory_')}` : `TLS is optional on this entry, so Postfix uses ${o.name.replace('_mandatory', '')}`} (postconf(5))`,
          `set ${required ? o.name.replace('_tls_', '_tls_mandatory_') : o.name.replace('_mandatory', '')} instead, or remove it`,
        ),
      );
    }
    if (daemon === 'smtpd') out.push(...serviceRules(service, effective, level, required));
  }
  return sortFindings(out);
}

/**
 * A main.cf rule's fix as an override of the entry: `name = value` → `-o name=value` (the short form takes no
 * whitespace around `=`, master(5)), `name = value (a remark)` → `-o name=value (a remark)`, a value with
 * whitespace in the long form `-o { name = value }`; a fix in other words is given as it is (a review: a remark
 * after the value ended up inside the braces).
 */
function asOverride(fix: string): string {
  const m = /^([a-z0-9_]+) = ([^;()]*?)( \([^()]*\))?$/.exec(fix);
  if (m === null) return `in this entry: ${fix}`;
  const [, name, value, remark] = m as unknown as [string, string, string, string | undefined];
  return `${/\s/.test(value) ? `-o { ${name} = ${value} }` : `-o ${name}=${value}`}${remark ?? ''}`;
}

/**
 * What only an smtpd entry can get wrong, evaluated on every one with main.cf's settings and its own: required
 * TLS or wrapper mode on port 25 (not on a loopback listener, no public MX), AUTH before STARTTLS.
 */
function serviceRules(service: MasterCfService, effective: MainCf, level: string, required: boolean): Finding[] {
  const out: Finding[] = [];
  const value = (name: string) => effective.parameters.get(name)?.expanded ?? '';
  const yes = (name: string) => isPostfixYes(value(name));
  const wrapper = yes('smtpd_tls_wrappermode');
  const publicPort25 = isPort25(service) && !listensOnLoopback(service);
  if (publicPort25 && level === 'encrypt') {
    // postconf(5) smtpd_tls_security_level; RFC 3207 §4.
    out.push(
      finding(
        service,
        'encrypt-on-port-25',
        'warning',
        'smtpd_tls_security_level',
        'TLS is mandatory on port 25: RFC 3207 forbids this on a publicly-referenced MX, and clients without TLS are refused with 530',
        'smtpd_tls_security_level = may for port 25 (in main.cf, or -o smtpd_tls_security_level=may on this entry); require TLS on submission instead',
      ),
    );
  }
  if (publicPort25 && wrapper) {
    out.push(
      finding(
        service,
        'wrappermode-on-port-25',
        'error',
        'smtpd_tls_wrappermode',
        'wrapper mode on port 25: ordinary SMTP clients (EHLO, then STARTTLS) can no longer connect',
        'no smtpd_tls_wrappermode on this entry (nor in main.cf); it belongs on submissions (465), with -o smtpd_tls_wrappermode=yes',
      ),
    );
  }
  // postconf(5) smtpd_tls_auth_only: without it (or required TLS) AUTH is offered before STARTTLS; with
  // smtpd_sasl_security_options = noplaintext no mechanism that sends the password in the clear is (SASL_README).
  if (
    yes('smtpd_sasl_auth_enable') &&
    !required &&
    !yes('smtpd_tls_auth_only') &&
    !/\bnoplaintext\b/.test(value('smtpd_sasl_security_options'))
  ) {
    out.push(
      finding(
        service,
        'auth-before-starttls',
        'warning',
        'smtpd_sasl_auth_enable',
        `SASL AUTH is offered before STARTTLS (smtpd_sasl_auth_enable = yes, TLS ${level === 'none' ? 'off' : `at level ${level}`}, smtpd_tls_auth_only = no): a client can send its password in plaintext`,
        isPort25(service)
          ? '-o smtpd_tls_auth_only=yes on this entry (or smtpd_tls_auth_only = yes in main.cf)'
          : '-o smtpd_tls_security_level=encrypt on this entry (or -o smtpd_tls_auth_only=yes)',
      ),
    );
  }
  return out;
}
