// `smtpd_tls_loglevel` / `smtp_tls_loglevel` as Postfix reads them: tls_misc.c tls_log_mask() hands the value to
// name_mask_opt() with tls_log_table and NAME_MASK_ANY_CASE | NAME_MASK_RETURN. So the value is a list of names
// (separated by commas and whitespace, any case), numbers among them; an unknown name is not fatal: Postfix logs
// 'warning: unknown smtpd_tls_loglevel value "…"' and the whole mask becomes 0 — no TLS logging at all. The table
// below is Postfix 3.7.11's (checked in Debian 12's libpostfix-tls.so); the handshake line tlscensus counts ("TLS
// connection established") needs TLS_LOG_SUMMARY.

const SUMMARY = 1;
/** What "2" adds to "1" (TLS_LOG_VERBOSE, TLS_LOG_CACHE, TLS_LOG_DEBUG) and the packet dumps of "3" and "4". */
const VERBOSE = 2;
const OTHER = 4;

const LEVEL_2 = SUMMARY | VERBOSE;
const TLS_LOG_TABLE: ReadonlyMap<string, number> = new Map([
  ['0', 0],
  ['none', 0],
  ['1', SUMMARY],
  ['routine', SUMMARY],
  ['2', LEVEL_2],
  ['debug', LEVEL_2],
  ['3', LEVEL_2],
  ['ssl-expert', LEVEL_2],
  ['4', LEVEL_2],
  ['ssl-developer', LEVEL_2],
  ['5', LEVEL_2],
  ['6', LEVEL_2],
  ['7', LEVEL_2],
  ['8', LEVEL_2],
  ['9', LEVEL_2],
  ['summary', SUMMARY],
  ['untrusted', OTHER],
  ['peercert', OTHER],
  ['certmatch', OTHER],
  ['verbose', VERBOSE],
  ['cache', VERBOSE],
  ['dane', OTHER],
  ['ssl-debug', VERBOSE],
  ['ssl-handshake-packet-dump', VERBOSE],
  ['ssl-session-packet-dump', VERBOSE],
]);

export interface TlsLogLevel {
  /** Names Postfix does not know: it warns and logs no TLS activity at all. */
  readonly unknown: readonly string[];
  /** The handshake summary ("TLS connection established …") is logged. */
  readonly summary: boolean;
  /** More than the summary (what "2" and up add: verbose, cache, library debug, packet dumps). */
  readonly verbose: boolean;
  /** Nothing at all is logged (0, none, an empty value, or an unknown name). */
  readonly none: boolean;
}

/** The TLS log mask Postfix makes of a `*_tls_loglevel` value. */
export function parseTlsLogLevel(value: string): TlsLogLevel {
  let mask = 0;
  const unknown: string[] = [];
  for (const name of value.split(/[,\s]+/).filter((n) => n !== '')) {
    const bits = TLS_LOG_TABLE.get(name.toLowerCase());
    if (bits === undefined) unknown.push(name);
    else mask |= bits;
  }
  // NAME_MASK_RETURN: one unknown name and name_mask_opt() returns 0.
  if (unknown.length > 0) mask = 0;
  return { unknown, summary: (mask & SUMMARY) !== 0, verbose: (mask & VERBOSE) !== 0, none: mask === 0 };
}
