// Reads a Postfix main.cf (or `postconf -n` output) the way Postfix itself does, so that the audit lints what
// Postfix will actually use, not what the file seems to say.
//
// Logical lines, Postfix util/readlline.c (same behaviour in 3.7.11, checked with `postconf -c DIR -h`):
//   - an empty line, a whitespace-only line and a line whose first non-whitespace character is '#' are dropped,
//     and they do NOT end a logical line: a following indented line still continues the text before them;
//   - a line that starts with whitespace continues the logical line; the text is appended as is, without the
//     newline (the continuation's leading whitespace stays in the value);
//   - a logical line that starts with whitespace (no preceding text) is ignored with a warning;
//   - '#' anywhere else is ordinary text: `name = a, # b` has the value "a, # b" (postconf(5): only whole lines
//     are comments).
// "name = value", util/split_nameval.c: the name ends at whitespace or '='; whitespace around '=' and at the end
// of the value is dropped; no '=' is an error (postconf: fatal). A later definition replaces an earlier one
// (postconf warns "overriding earlier entry").
// Expansion, util/mac_parse.c and util/mac_expand.c as used by mail_conf_eval() (recursive): `$name`, `${name}`,
// `$(name)`; `${name?text}` (text if name is non-empty), `${name:text}` (text if name is empty or undefined),
// `${name?{text1}:{text2}}`, `${{a} == {b} ? {t} : {f}}` and `!=`; `$$` is a literal '$'. Undefined names expand
// to nothing (postconf warns "undefined parameter"). Syntax errors and nesting deeper than 100 make Postfix
// programs exit ("macro processing error"). Values are expanded where they are used, so definition order does not
// matter: `smtp_tls_exclude_ciphers = ${smtpd_tls_exclude_ciphers}` sees the final smtpd value.

/**
 * Postfix 3.7 defaults of the parameters the TLS policy reads (`postconf -d` of Postfix 3.7.11, Debian 12;
 * definitions in postfix/src/global/mail_params.h, documented in postconf(5)). Before Postfix 3.6 the protocol
 * defaults were "!SSLv2, !SSLv3" (mandatory) and "!SSLv2, !SSLv3" (opportunistic, since 2.11.6/3.0.2); before
 * mid-2015 (2.11.6/3.0.2) the opportunistic cipher grade was "export".
 */
export const POSTFIX_37_TLS_DEFAULTS: Readonly<Record<string, string>> = {
  // Security levels; the obsolete booleans apply only when the level is empty.
  smtpd_tls_security_level: '',
  smtpd_use_tls: 'no',
  smtpd_enforce_tls: 'no',
  smtpd_tls_wrappermode: 'no',
  smtpd_tls_auth_only: 'no',
  smtpd_tls_ask_ccert: 'no',
  smtpd_tls_req_ccert: 'no',
  smtp_tls_security_level: '',
  smtp_use_tls: 'no',
  smtp_enforce_tls: 'no',
  smtp_tls_enforce_peername: 'yes',
  smtp_tls_wrappermode: 'no',
  lmtp_tls_security_level: '',
  lmtp_use_tls: 'no',
  lmtp_enforce_tls: 'no',
  lmtp_tls_enforce_peername: 'yes',
  // Protocols: ">=TLSv1" since Postfix 3.6.
  smtpd_tls_protocols: '>=TLSv1',
  smtpd_tls_mandatory_protocols: '>=TLSv1',
  smtp_tls_protocols: '>=TLSv1',
  smtp_tls_mandatory_protocols: '>=TLSv1',
  lmtp_tls_protocols: '>=TLSv1',
  lmtp_tls_mandatory_protocols: '>=TLSv1',
  // Cipher grades and exclusions.
  smtpd_tls_ciphers: 'medium',
  smtpd_tls_mandatory_ciphers: 'medium',
  smtpd_tls_exclude_ciphers: '',
  smtpd_tls_mandatory_exclude_ciphers: '',
  smtp_tls_ciphers: 'medium',
  smtp_tls_mandatory_ciphers: 'medium',
  smtp_tls_exclude_ciphers: '',
  smtp_tls_mandatory_exclude_ciphers: '',
  lmtp_tls_ciphers: 'medium',
  lmtp_tls_mandatory_ciphers: 'medium',
  lmtp_tls_exclude_ciphers: '',
  lmtp_tls_mandatory_exclude_ciphers: '',
  // The OpenSSL cipher lists behind the grades.
  tls_high_cipherlist: 'aNULL:-aNULL:HIGH:@STRENGTH',
  tls_medium_cipherlist: 'aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH',
  tls_low_cipherlist: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH',
  tls_export_cipherlist: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH',
  tls_null_cipherlist: 'eNULL:!aNULL',
  tls_preempt_cipherlist: 'no',
  tls_ssl_options: '',
  // Logging: 0 logs no TLS summary line at all, so no census is possible.
  smtpd_tls_loglevel: '0',
  smtp_tls_loglevel: '0',
  lmtp_tls_loglevel: '0',
};

export interface MainCfParameter {
  readonly name: string;
  /** The value as Postfix stores it: continuation lines joined, surrounding whitespace removed, `$` unexpanded. */
  readonly raw: string;
  /**
   * After `$name` expansion against the final main.cf values and the defaults; null when expansion failed (Postfix
   * would exit) and for `overridden` definitions, which Postfix never uses.
   */
  readonly expanded: string | null;
  /** 1-based line of the `name = value` line, and of the last continuation line. */
  readonly line: number;
  readonly lastLine: number;
}

export interface MainCfDiagnostic {
  readonly severity: 'error' | 'warning';
  readonly line: number | null;
  readonly parameter: string | null;
  readonly message: string;
}

export interface MainCf {
  /** File name for messages, when known. */
  readonly source: string | null;
  /** The effective definition of each parameter set in the file (the last one). */
  readonly parameters: ReadonlyMap<string, MainCfParameter>;
  /** Definitions replaced by a later one of the same name, in file order. */
  readonly overridden: readonly MainCfParameter[];
  readonly diagnostics: readonly MainCfDiagnostic[];
  /** Defaults used for parameters the file does not set. */
  readonly defaults: Readonly<Record<string, string>>;
}

export type ParameterOrigin = 'main.cf' | 'default' | 'unset';

export interface ResolvedParameter {
  readonly name: string;
  readonly raw: string;
  readonly expanded: string;
  readonly origin: ParameterOrigin;
  readonly line: number | null;
}

interface LogicalLine {
  readonly text: string;
  readonly line: number;
  readonly lastLine: number;
}

/** Postfix ISSPACE(): C isspace() in the C locale. */
function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

/** readlline(): logical lines with their first and last physical line numbers. */
function readLogicalLines(text: string, diagnostics: MainCfDiagnostic[]): LogicalLine[] {
  const physical = text.split('\n');
  // A final newline does not start another (empty) line.
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const out: LogicalLine[] = [];
  let i = 0;
  while (i < physical.length) {
    let buf = '';
    let first = 0;
    let last = 0;
    for (; i < physical.length; ) {
      const line = physical[i] ?? '';
      i += 1;
      const firstNonSpace = [...line].find((ch) => !isSpace(ch));
      if (firstNonSpace !== undefined && firstNonSpace !== '#') {
        if (buf.length === 0) first = i;
        buf += line;
        last = i;
      }
      if (buf.length > 0) {
        const next = physical[i]?.[0];
        // Peeking at the next line's first byte: an empty line peeks the newline, which is whitespace.
        const nextIsSpace = i < physical.length && (next === undefined || isSpace(next));
        if (next !== '#' && !nextIsSpace) break;
      }
    }
    if (buf.length === 0) break;
    if (isSpace(buf[0])) {
      diagnostics.push({
        severity: 'warning',
        line: first,
        parameter: null,
        message: `logical line must not start with whitespace: "${buf.slice(0, 30)}${buf.length > 30 ? '...' : ''}" (Postfix ignores it)`,
      });
      continue;
    }
    out.push({ text: buf, line: first, lastLine: last });
  }
  return out;
}

function trimEnd(value: string): string {
  let end = value.length;
  while (end > 0 && isSpace(value[end - 1])) end -= 1;
  return value.slice(0, end);
}

/** split_nameval(). */
function splitNameValue(text: string): { name: string; value: string } | { error: string } {
  let i = 0;
  while (i < text.length && isSpace(text[i])) i += 1;
  if (i === text.length) return { error: 'missing attribute name' };
  const nameStart = i;
  while (i < text.length && !isSpace(text[i]) && text[i] !== '=') i += 1;
  const name = text.slice(nameStart, i);
  while (i < text.length && isSpace(text[i])) i += 1;
  if (text[i] !== '=') return { error: "missing '=' after attribute name" };
  i += 1;
  while (i < text.length && isSpace(text[i])) i += 1;
  return { name, value: trimEnd(text.slice(i)) };
}

/** Parses main.cf text. Never throws; problems Postfix would stop on are `error` diagnostics. */
export function parseMainCf(
  text: string,
  options: { source?: string; defaults?: Readonly<Record<string, string>> } = {},
): MainCf {
  const diagnostics: MainCfDiagnostic[] = [];
  const defaults = options.defaults ?? POSTFIX_37_TLS_DEFAULTS;
  const rawByName = new Map<string, { raw: string; line: number; lastLine: number }>();
  const overriddenRaw: Array<{ name: string; raw: string; line: number; lastLine: number }> = [];

  for (const logical of readLogicalLines(text, diagnostics)) {
    const parsed = splitNameValue(logical.text);
    if ('error' in parsed) {
      diagnostics.push({
        severity: 'error',
        line: logical.line,
        parameter: null,
        message: `${parsed.error}: "${logical.text.slice(0, 60)}" (Postfix stops with a fatal error)`,
      });
      continue;
    }
    const previous = rawByName.get(parsed.name);
    if (previous) {
      overriddenRaw.push({ name: parsed.name, ...previous });
      diagnostics.push({
        severity: 'warning',
        line: logical.line,
        parameter: parsed.name,
        message: `overriding earlier entry from line ${previous.line}: ${parsed.name} = ${previous.raw}`,
      });
    }
    rawByName.set(parsed.name, { raw: parsed.value, line: logical.line, lastLine: logical.lastLine });
  }

  // Read-only parameters a daemon sets itself (postconf(5)): known names, empty in main.cf itself.
  const parameters = expandParameters(rawByName, defaults, { service_name: '', process_name: '' }, diagnostics);
  const overridden = overriddenRaw.map((entry) => ({ ...entry, expanded: null }));
  return { source: options.source ?? null, parameters, overridden, diagnostics, defaults };
}

type RawDefinitions = ReadonlyMap<string, { raw: string; line: number; lastLine: number }>;

/**
 * Every definition expanded against the final values, the defaults and `builtins` (read-only parameters such as
 * service_name); expansion errors and undefined names become diagnostics at the definition's line.
 */
function expandParameters(
  rawByName: RawDefinitions,
  defaults: Readonly<Record<string, string>>,
  builtins: Readonly<Record<string, string>>,
  diagnostics: MainCfDiagnostic[],
): Map<string, MainCfParameter> {
  const lookup = (name: string): string | undefined => rawByName.get(name)?.raw ?? builtins[name] ?? defaults[name];
  const parameters = new Map<string, MainCfParameter>();
  for (const [name, entry] of rawByName) {
    const result = expandPostfixValue(entry.raw, lookup);
    for (const message of result.errors) {
      diagnostics.push({ severity: 'error', line: entry.line, parameter: name, message });
    }
    for (const undefinedName of result.undefinedNames) {
      diagnostics.push({
        severity: 'warning',
        line: entry.line,
        parameter: name,
        message: `undefined parameter: ${undefinedName} (expands to nothing, unless it is a Postfix built-in this tool does not know)`,
      });
    }
    parameters.set(name, {
      name,
      raw: entry.raw,
      expanded: result.errors.length > 0 ? null : result.value,
      line: entry.line,
      lastLine: entry.lastLine,
    });
  }
  return parameters;
}

/**
 * main.cf with some parameters set otherwise, as master.cf's `-o name=value` does for one service (master-cf.ts):
 * every value expanded again (another parameter may refer to one overridden), `builtins` readable as `$name`.
 * The diagnostics are only those of the overrides themselves, at `line` (main.cf's own are the caller's already).
 */
export function overrideParameters(
  cf: MainCf,
  overrides: ReadonlyMap<string, string>,
  builtins: Readonly<Record<string, string>>,
  line: number,
): MainCf {
  const rawByName = new Map<string, { raw: string; line: number; lastLine: number }>();
  for (const [name, p] of cf.parameters) rawByName.set(name, { raw: p.raw, line: p.line, lastLine: p.lastLine });
  for (const [name, raw] of overrides) rawByName.set(name, { raw, line, lastLine: line });
  const all: MainCfDiagnostic[] = [];
  const parameters = expandParameters(rawByName, cf.defaults, builtins, all);
  const diagnostics = all.filter((d) => d.parameter !== null && overrides.has(d.parameter));
  return { ...cf, parameters, diagnostics };
}

/** The value a Postfix program would use for `name`: main.cf, else the default, expanded. */
export function resolveParameter(cf: MainCf, name: string): ResolvedParameter {
  const set = cf.parameters.get(name);
  if (set) return { name, raw: set.raw, expanded: set.expanded ?? '', origin: 'main.cf', line: set.line };
  const fallback = cf.defaults[name];
  if (fallback === undefined) return { name, raw: '', expanded: '', origin: 'unset', line: null };
  const lookup = (other: string): string | undefined => cf.parameters.get(other)?.raw ?? cf.defaults[other];
  return { name, raw: fallback, expanded: expandPostfixValue(fallback, lookup).value, origin: 'default', line: null };
}

export interface ExpansionResult {
  readonly value: string;
  /** Syntax errors and runaway nesting: Postfix programs exit on these. */
  readonly errors: string[];
  /** Names referenced with `$name`/`${name}` that have no value (expanded to nothing). */
  readonly undefinedNames: string[];
}

const MAX_NESTING = 100;
/**
 * Longer than any real value by far: ten lines of `v_i = ${v_i+1}` ten times over expand to 10^10 characters (a
 * review's main.cf ran the audit out of memory).
 */
const MAX_EXPANDED = 64 * 1024;
/** References one value may expand, at most: a tree of references to empty values grows no text, only work. */
const MAX_REFERENCES = 100_000;
const WHITESPACE = /^[ \t\r\n]*/;

class ExpansionError extends Error {}

/**
 * Expands `$name` references in a Postfix parameter value, recursively, as mail_conf_eval() does. `lookup` returns
 * the raw (unexpanded) value of a parameter, or undefined.
 */
export function expandPostfixValue(value: string, lookup: (name: string) => string | undefined): ExpansionResult {
  const undefinedNames = new Set<string>();
  let depth = 0;
  let references = 0;

  const parse = (pattern: string): string => {
    // mac_parse(): split into literal text and macro references.
    let out = '';
    let i = 0;
    while (i < pattern.length) {
      const ch = pattern[i];
      if (ch !== '$') {
        out += ch;
        i += 1;
        continue;
      }
      if (pattern[i + 1] === '$') {
        out += '$';
        i += 2;
        continue;
      }
      i += 1;
      let reference: string;
      const open = pattern[i];
      if (open === '{' || open === '(') {
        const close = open === '{' ? '}' : ')';
        let level = 1;
        let j = i + 1;
        for (; level > 0; j += 1) {
          if (j >= pattern.length) throw new ExpansionError(`truncated macro reference: "${pattern}"`);
          if (pattern[j] === open) level += 1;
          if (pattern[j] === close) level -= 1;
        }
        reference = pattern.slice(i + 1, j - 1);
        i = j;
      } else {
        let j = i;
        while (j < pattern.length && /[A-Za-z0-9_]/.test(pattern[j] ?? '')) j += 1;
        reference = pattern.slice(i, j);
        i = j;
      }
      if (reference.length === 0) throw new ExpansionError(`empty macro name: "${pattern}"`);
      out += expandReference(reference);
      if (out.length > MAX_EXPANDED) {
        throw new ExpansionError(`expands to more than ${MAX_EXPANDED / 1024} KiB: "$${reference.slice(0, 40)}"`);
      }
    }
    return out;
  };

  const expandReference = (reference: string): string => {
    // mac_expand_callback().
    depth += 1;
    if (depth > MAX_NESTING) throw new ExpansionError(`unreasonable macro call nesting: "${reference}"`);
    references += 1;
    if (references > MAX_REFERENCES) {
      throw new ExpansionError(
        `expands more than ${MAX_REFERENCES.toLocaleString('en')} references: "$${reference.slice(0, 40)}"`,
      );
    }
    try {
      let rest = reference;
      let lookedUp: string | undefined;
      let op: string | undefined;
      if (rest.replace(WHITESPACE, '').startsWith('{')) {
        const logical = parseLogical(rest);
        lookedUp = logical.value;
        rest = logical.rest;
        op = rest[0];
        if (op !== undefined) {
          if (op !== '?' && op !== ':')
            throw new ExpansionError(`"?" or ":" expected at: "...}>>>${rest.slice(0, 20)}"`);
          rest = rest.slice(1);
        }
      } else {
        // mac_expand_callback() of Postfix 3.7 (checked with its postconf -x): whitespace may surround the name
        // ("${ name }", "${name ? text}"); after the operator it is part of the text unless a {} operand follows.
        const start = WHITESPACE.exec(rest)?.[0].length ?? 0;
        const match = /^[A-Za-z0-9_]*/.exec(rest.slice(start))?.[0] ?? '';
        const end = start + match.length;
        const gap = WHITESPACE.exec(rest.slice(end))?.[0].length ?? 0;
        op = rest[end + gap];
        if (op !== undefined && op !== '?' && op !== ':') {
          throw new ExpansionError(
            `attribute name syntax error at: "...${rest.slice(0, end)}>>>${rest.slice(end, end + 20)}"`,
          );
        }
        rest = op === undefined ? '' : rest.slice(end + gap + 1);
        lookedUp = lookup(match);
        // postconf warns about undefined names in conditional forms too.
        if (lookedUp === undefined) undefinedNames.add(match);
        if (op === undefined && lookedUp === undefined) return '';
      }

      const nonEmpty = lookedUp !== undefined && lookedUp.length > 0;
      if (op === undefined) return lookedUp === undefined ? '' : parse(lookedUp);
      let result = '';
      if (op === '?') {
        const trueText = takeOperand(rest);
        rest = trueText.rest;
        if (nonEmpty) result = parse(trueText.text);
        if (rest.length === 0) return result;
        if (rest[0] !== ':') throw new ExpansionError(`":" expected at: "...${trueText.text}}>>>${rest.slice(0, 20)}"`);
        rest = rest.slice(1);
      }
      const falseText = takeOperand(rest);
      if (falseText.rest.length > 0) {
        throw new ExpansionError(`unexpected input at: "...${falseText.text}}>>>${falseText.rest.slice(0, 20)}"`);
      }
      if (!nonEmpty) result = parse(falseText.text);
      return result;
    } finally {
      depth -= 1;
    }
  };

  /** `{text}` (whitespace around it ignored) or the rest of the input as plain text. */
  const takeOperand = (text: string): { text: string; rest: string } => {
    const lead = WHITESPACE.exec(text)?.[0].length ?? 0;
    if (text[lead] !== '{') return { text, rest: '' };
    return extractCurly(text.slice(lead));
  };

  const extractCurly = (text: string): { text: string; rest: string } => {
    let level = 1;
    let j = 1;
    for (; ; j += 1) {
      const ch = text[j];
      if (ch === undefined) throw new ExpansionError(`unbalanced {} in attribute expression: "${text}"`);
      if (ch === '{') level += 1;
      else if (ch === '}') {
        level -= 1;
        if (level <= 0) break;
      }
    }
    const payload = text.slice(1, j);
    const after = text.slice(j + 1);
    return { text: payload, rest: after.slice(WHITESPACE.exec(after)?.[0].length ?? 0) };
  };

  const parseLogical = (text: string): { value: string; rest: string } => {
    const left = extractCurly(text.slice(WHITESPACE.exec(text)?.[0].length ?? 0));
    const operator = /^[<>!=?+\-*/~&|%]*/.exec(left.rest)?.[0] ?? '';
    if (operator !== '==' && operator !== '!=') {
      throw new ExpansionError(`"==" or "!=" expected at: "...${left.text}}>>>${left.rest.slice(0, 20)}"`);
    }
    const afterOp = left.rest.slice(operator.length);
    const lead = WHITESPACE.exec(afterOp)?.[0].length ?? 0;
    if (afterOp[lead] !== '{') throw new ExpansionError(`"{expression}" expected at: "...{${left.text}} ${operator}"`);
    const right = extractCurly(afterOp.slice(lead));
    const equal = parse(left.text) === parse(right.text);
    const truth = operator === '==' ? equal : !equal;
    return { value: truth ? 'true' : '', rest: right.rest };
  };

  try {
    return { value: parse(value), errors: [], undefinedNames: [...undefinedNames] };
  } catch (error) {
    if (!(error instanceof ExpansionError)) throw error;
    return { value: '', errors: [`macro processing error: ${error.message}`], undefinedNames: [...undefinedNames] };
  }
}
