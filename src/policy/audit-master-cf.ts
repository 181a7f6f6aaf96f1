// The audit of master.cf's TLS overrides (`audit --main-cf F`, with the master.cf beside it or `--master-cf`):
// what Postfix stops on in the file, the main.cf rules run again on each smtpd service and smtp transport with
// its `-o` overrides applied (findings only about the parameters the service overrides, and none main.cf already
// has), and what only makes sense per service: TLS required or wrapper mode on port 25, and SASL offered before
// STARTTLS.

import { auditMainCf, type Finding, sortFindings } from './audit.js';
import { type MainCf, resolveParameter } from './main-cf.js';
import { isServiceDisabled, type MasterCf, type MasterCfService, serviceMainCf } from './master-cf.js';
import { OPENSSL_3_0_DEBIAN } from './openssl-cipher-string.js';
import { derivePostfixTlsPolicies, isPostfixYes } from './postfix-tls-policy.js';

/**
 * main.cf rules about every smtpd service or every destination at once: per service they mean something else
 * (encrypt on submission is right, and a transport that requires TLS serves only the destinations routed to it);
 * port 25's own cases are checked below.
 */
const MAIN_CF_WIDE_RULES: ReadonlySet<string> = new Set([
  'encrypt-on-port-25',
  'wrappermode-in-main-cf',
  'smtp-mandatory-everywhere',
  'security-level-missing',
  'main-cf-syntax',
]);

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
    const overridden = new Set(service.overrides.map((o) => o.name));
    for (const f of auditMainCf(effective)) {
      if (MAIN_CF_WIDE_RULES.has(f.id) || !overridden.has(f.parameter) || broken.has(f.parameter)) continue;
      if (known.has(`${f.id}|${f.parameter}|${f.message}`)) continue;
      out.push(finding(service, f.id, f.severity, f.parameter, f.message, asOverride(f.fix)));
    }
    if (service.command === 'smtpd') out.push(...serviceRules(service, effective, overridden));
  }
  return sortFindings(out);
}

/**
 * A main.cf rule's fix as an override of the entry: `name = value …` → `-o name=value …` (the short form takes no
 * whitespace around `=`, master(5)); the long form when the value has some.
 */
function asOverride(fix: string): string {
  const m = /^([a-z0-9_]+) = (.*?)( \(.*\))?$/.exec(fix);
  if (m === null) return `in this entry: ${fix}`;
  const [, name, value, rest] = m as unknown as [string, string, string, string | undefined];
  return `${/\s/.test(value) ? `-o { ${name} = ${value} }` : `-o ${name}=${value}`}${rest ?? ''}`;
}

/** What only a service can get wrong: required TLS or wrapper mode on port 25, AUTH before STARTTLS. */
function serviceRules(service: MasterCfService, effective: MainCf, overridden: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  const yes = (name: string) => isPostfixYes(resolveParameter(effective, name).expanded);
  // The level as Postfix derives it (an empty one leaves it to the obsolete smtpd_use_tls/smtpd_enforce_tls).
  const level: string = derivePostfixTlsPolicies(effective, { build: OPENSSL_3_0_DEBIAN }).inbound.securityLevel;
  const wrapper = yes('smtpd_tls_wrappermode');
  if (isPort25(service) && level === 'encrypt' && overridden.has('smtpd_tls_security_level')) {
    // postconf(5) smtpd_tls_security_level; RFC 3207 §4.
    out.push(
      finding(
        service,
        'encrypt-on-port-25',
        'warning',
        'smtpd_tls_security_level',
        'TLS is mandatory on port 25: RFC 3207 forbids this on a publicly-referenced MX, and clients without TLS are refused with 530',
        'remove -o smtpd_tls_security_level=encrypt from this entry; require TLS on submission instead',
      ),
    );
  }
  if (isPort25(service) && wrapper && overridden.has('smtpd_tls_wrappermode')) {
    out.push(
      finding(
        service,
        'wrappermode-on-port-25',
        'error',
        'smtpd_tls_wrappermode',
        'wrapper mode on port 25: ordinary SMTP clients (EHLO, then STARTTLS) can no longer connect',
        'remove -o smtpd_tls_wrappermode=yes from this entry; it belongs on submissions (465)',
      ),
    );
  }
  // postconf(5) smtpd_tls_auth_only: without it (or required TLS) AUTH is offered before STARTTLS, and a client
  // may send its password in plaintext. Where the entry changes none of these, main.cf's finding says it.
  const changes = [
    'smtpd_sasl_auth_enable',
    'smtpd_tls_security_level',
    'smtpd_tls_auth_only',
    'smtpd_tls_wrappermode',
  ];
  if (
    changes.some((name) => overridden.has(name)) &&
    yes('smtpd_sasl_auth_enable') &&
    level !== 'encrypt' &&
    !wrapper &&
    !yes('smtpd_tls_auth_only')
  ) {
    out.push(
      finding(
        service,
        'auth-before-starttls',
        'warning',
        'smtpd_tls_auth_only',
        `SASL AUTH is offered before STARTTLS (smtpd_sasl_auth_enable = yes, TLS ${level === 'none' ? 'off' : `at level ${level}`}, smtpd_tls_auth_only = no): a client can send its password in plaintext`,
        `-o smtpd_tls_security_level=encrypt on this entry (or -o smtpd_tls_auth_only=yes)`,
      ),
    );
  }
  return out;
}
