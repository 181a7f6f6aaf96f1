// Reads a Postfix master.cf (or `postconf -M` output) for the per-service `-o` overrides of main.cf: where a
// mail admin requires TLS on submission, turns on wrapper mode for smtps, or tightens protocols on one listener.
// What-if judges each service's sessions under its own settings (whatif-policy.ts).
//
// Syntax, master(5) of Postfix 3.7 and src/master/master_ent.c:
//   - logical lines as in main.cf (util/readlline.c, the same reader main-cf.ts follows): `#` lines and blank
//     lines are dropped, a line that starts with whitespace continues the one before;
//   - eight whitespace-separated fields: service, type, private, unpriv, chroot, wakeup, maxproc, command + args;
//     `{` … `}` protect whitespace in an argument (Postfix ≥ 3.0; whitespace after `{` and before `}` dropped);
//   - a later entry with the same service name and type replaces an earlier one;
//   - `-o name=value` (short form), `-o { name = value }` (long form: whitespace around `=` dropped, inside the
//     value kept) override a main.cf parameter for that service; the value may refer to `$name` like main.cf,
//     and `$service_name` is the entry's service name (postconf(5) service_name).
// What a service's lines are logged as (postconf(5) syslog_name): `${syslog_name}/${process}`, the process being the
// command's name, `syslog_name` defaulting to `${multi_instance_name?{$multi_instance_name}:{postfix}}`; so
// `submission inet … smtpd -o syslog_name=postfix/submission` logs `postfix/submission/smtpd`, which the census
// names service `submission/smtpd` (dialects/postfix.ts: the program after its first `/`).

import {
  expandPostfixValue,
  type MainCf,
  type MainCfDiagnostic,
  overrideParameters,
  resolveParameter,
} from './main-cf.js';

export interface MasterCfOverride {
  readonly name: string;
  /** As written, `$` unexpanded. */
  readonly value: string;
}

export interface MasterCfService {
  /** The first field: `smtp`, `submission`, `127.0.0.1:10025`, `relay`. */
  readonly name: string;
  /** `inet`, `unix`, `unix-dgram`, `fifo` or `pass`. */
  readonly type: string;
  /** The daemon's name (`smtpd`, `smtp`, `postscreen`, …): the last part of the command's path. */
  readonly command: string;
  /** `-o` overrides, in order (a later one of the same name wins, as in getopt's loop). */
  readonly overrides: readonly MasterCfOverride[];
  /** 1-based first and last physical line of the entry. */
  readonly line: number;
  readonly lastLine: number;
}

export interface MasterCf {
  readonly source: string | null;
  /** In file order; of two entries with the same name and type only the later one. */
  readonly services: readonly MasterCfService[];
  readonly diagnostics: readonly MainCfDiagnostic[];
}

/** Postfix ≥ 3.0's default syslog_name (global/mail_params.h DEF_SYSLOG_NAME). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Postfix's own `${name?{…}:{…}}` syntax, not a template.
export const DEFAULT_SYSLOG_NAME = '${multi_instance_name?{$multi_instance_name}:{postfix}}';

const SERVICE_TYPES: ReadonlySet<string> = new Set(['inet', 'unix', 'unix-dgram', 'fifo', 'pass']);

/** Postfix ISSPACE(). */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}

/** Logical lines (readlline): the same rules as main.cf's. */
function logicalLines(text: string): { text: string; line: number; lastLine: number }[] {
  const physical = text.split('\n');
  if (physical.at(-1) === '') physical.pop();
  const out: { text: string; line: number; lastLine: number }[] = [];
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i]!;
    const trimmed = raw.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (isSpace(raw[0]) && out.length > 0) {
      const last = out[out.length - 1]!;
      out[out.length - 1] = { text: `${last.text}${raw}`, line: last.line, lastLine: i + 1 };
    } else {
      out.push({ text: raw, line: i + 1, lastLine: i + 1 });
    }
  }
  return out;
}

/** master_blanks of src/master/master_ent.c: what separates the words of an entry. */
function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/**
 * Whitespace-separated tokens, `{ … }` kept as one token with its braces (util/mystrtok.c mystrtokq with
 * CHARS_BRACE); an unbalanced `{` runs to the end of the line.
 */
function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && isBlank(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '{') depth++;
      else if (c === '}') depth = Math.max(0, depth - 1);
      else if (depth === 0 && isBlank(c)) break;
    }
    out.push(text.slice(start, i));
  }
  return out;
}

/** `{ text }` → `text` (util/extpar.c: whitespace after `{` and before `}` dropped); anything else as is. */
function unbrace(token: string): { text: string; braced: boolean; error: string | null } {
  if (!token.startsWith('{')) return { text: token, braced: false, error: null };
  if (!token.endsWith('}')) return { text: token.slice(1).trim(), braced: true, error: `missing '}' in "${token}"` };
  return { text: token.slice(1, -1).trim(), braced: true, error: null };
}

/**
 * Options that take an argument in a Postfix daemon's command line: GETOPT(…, "cdDi:lm:n:o:r:s:St:uvVz") in
 * src/master/single_server.c, multi_server.c and trigger_server.c.
 */
const TAKES_ARGUMENT: ReadonlySet<string> = new Set(['i', 'm', 'n', 'o', 'r', 's', 't']);

/**
 * The `-o` arguments of a command (args[0] is the command), read as the daemon's getopt() reads them: bundled
 * flags (`-vo name=value`), an argument attached to its option (`-oname=value`) or in the next word; options end
 * at `--` or the first word that is not one (Postfix asks getopt not to permute).
 */
function daemonOptions(args: readonly string[]): { value: string | undefined; attached: boolean }[] {
  const out: { value: string | undefined; attached: boolean }[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') break;
    for (let k = 1; k < arg.length; k++) {
      const option = arg[k]!;
      if (!TAKES_ARGUMENT.has(option)) continue;
      const attached = k + 1 < arg.length;
      const value = attached ? arg.slice(k + 1) : args[++i];
      if (option === 'o') out.push({ value, attached });
      break;
    }
  }
  return out;
}

/** One `-o` setting: `name=value`, or the long form's `name = value`. */
function parseSetting(token: string): MasterCfOverride | string {
  const { text, braced, error } = unbrace(token);
  if (error !== null) return error;
  const eq = text.indexOf('=');
  if (eq <= 0) return `"-o ${token}" is not name=value`;
  const name = text.slice(0, eq).trim();
  if (/\s/.test(name)) return `"-o ${token}": a parameter name has no whitespace`;
  // The short form has no whitespace around `=` (master(5) NOTE 2); the long form drops it.
  const value = braced ? text.slice(eq + 1).trim() : text.slice(eq + 1);
  return { name, value };
}

/** Parses master.cf text (or `postconf -M` output). Never throws; entries Postfix would reject are diagnostics. */
export function parseMasterCf(text: string, options: { source?: string } = {}): MasterCf {
  const diagnostics: MainCfDiagnostic[] = [];
  const byKey = new Map<string, MasterCfService>();
  for (const logical of logicalLines(text)) {
    if (isSpace(logical.text[0])) {
      diagnostics.push({
        severity: 'warning',
        line: logical.line,
        parameter: null,
        message: 'a continuation line with no entry before it (Postfix ignores it)',
      });
      continue;
    }
    const fields = tokens(logical.text);
    if (fields.length < 8) {
      diagnostics.push({
        severity: 'error',
        line: logical.line,
        parameter: null,
        message: `an entry needs 8 fields (service, type, private, unpriv, chroot, wakeup, maxproc, command), this has ${fields.length}: "${logical.text.trim().slice(0, 60)}" (Postfix stops with a fatal error)`,
      });
      continue;
    }
    const [name, type] = fields as [string, string];
    if (!SERVICE_TYPES.has(type)) {
      diagnostics.push({
        severity: 'error',
        line: logical.line,
        parameter: null,
        message: `unknown service type "${type}" for ${name} (inet, unix, unix-dgram, fifo or pass; Postfix stops with a fatal error)`,
      });
      continue;
    }
    const args = fields.slice(7);
    const commandPath = unbrace(args[0]!).text;
    const command = commandPath.slice(commandPath.lastIndexOf('/') + 1);
    const overrides: MasterCfOverride[] = [];
    for (const o of daemonOptions(args)) {
      const parsed =
        o.value === undefined
          ? `"-o" without a setting in ${name}`
          : o.attached && o.value.startsWith('{')
            ? `"-o${o.value}": the daemon reads the braces as part of the name (master.cf strips them only from a word that starts with "{"); write -o { name = value }`
            : parseSetting(o.value);
      if (typeof parsed === 'string') {
        diagnostics.push({ severity: 'error', line: logical.line, parameter: null, message: `${name}: ${parsed}` });
      } else {
        overrides.push(parsed);
      }
    }
    const key = `${name}\0${type}`;
    if (byKey.has(key)) {
      diagnostics.push({
        severity: 'warning',
        line: logical.line,
        parameter: null,
        message: `${name}/${type} is defined again: the entry at line ${byKey.get(key)!.line} is ignored`,
      });
      byKey.delete(key); // the later entry takes the later place
    }
    byKey.set(key, { name, type, command, overrides, line: logical.line, lastLine: logical.lastLine });
  }
  return { source: options.source ?? null, services: [...byKey.values()], diagnostics };
}

/**
 * main.cf as the service's daemon sees it: its `-o` overrides applied, `$service_name` its name; errors in an
 * override's value (what Postfix would stop on) are in the result's diagnostics, at the entry's line.
 */
export function serviceMainCf(cf: MainCf, service: MasterCfService): MainCf {
  const overrides = new Map<string, string>();
  for (const o of service.overrides) overrides.set(o.name, o.value);
  return overrideParameters(cf, overrides, { service_name: service.name, process_name: service.command }, service.line);
}

/** 127.0.0.0/8, ::1 and localhost, bracketed or not. */
export function isLoopbackHost(text: string): boolean {
  const host = text.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An inet entry bound to a loopback address: `127.0.0.1:10025`, `[::1]:10025`, `localhost:10025` (master(5)). */
export function listensOnLoopback(entry: MasterCfService): boolean {
  if (entry.type !== 'inet') return false;
  const colon = entry.name.lastIndexOf(':');
  return colon > 0 && isLoopbackHost(entry.name.slice(0, colon));
}

/**
 * Whether main.cf's master_service_disable turns the entry off (postconf(5), Postfix ≥ 2.11: service types or
 * `name/type`, `!pattern` to exclude, the first match decides; 2.6–2.10 wrote `name.type`).
 */
export function isServiceDisabled(cf: MainCf, service: MasterCfService): boolean {
  const list = resolveParameter(cf, 'master_service_disable').expanded;
  // (Matched ignoring case, each `!` toggling, as util/match_list.c does.)
  const name = service.name.toLowerCase();
  for (const word of list.toLowerCase().split(/[\s,]+/)) {
    if (word === '') continue;
    const bangs = /^!*/.exec(word)![0].length;
    const pattern = word.slice(bangs);
    const sep = Math.max(pattern.lastIndexOf('/'), pattern.lastIndexOf('.'));
    const matches =
      pattern === service.type ||
      (sep > 0 && pattern.slice(0, sep) === name && pattern.slice(sep + 1) === service.type);
    if (matches) return bangs % 2 === 0;
  }
  return false;
}

/** The program tag a service's lines carry (`postfix/submission/smtpd`), from its main.cf (serviceMainCf). */
export function serviceProgram(effective: MainCf, service: MasterCfService): string {
  const set = effective.parameters.get('syslog_name');
  const syslogName =
    set !== undefined
      ? (set.expanded ?? set.raw)
      : expandPostfixValue(DEFAULT_SYSLOG_NAME, (n) => effective.parameters.get(n)?.raw ?? effective.defaults[n]).value;
  return `${syslogName}/${service.command}`;
}

/** The census's name for a service's sessions (dialects/postfix.ts describeProgram): the program after its first `/`. */
export function censusServiceName(program: string): string {
  const slash = program.indexOf('/');
  return slash < 0 ? program : program.slice(slash + 1);
}
