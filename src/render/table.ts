// The terminal report. It leads with what the seed one-liner printed (count, protocol, cipher) and adds
// share, rating and peers; legacy rows stand out; then failures, plaintext peers, and the coverage line.
// Colour only when asked (the CLI decides: a TTY and no NO_COLOR).

import { type Coverage, isMailboxService, type Peer, type Rating } from '../model/types.js';
import type { DirectionReport, PlaintextEntry, ReportData, SpreadEntry } from './report-model.js';
import { forTerminal } from './sanitize.js';

export interface TableOptions {
  color: boolean;
  /** Rows shown per failure/plaintext list; the rest are summarised. */
  top: number;
}

const ANSI = {
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
};

const nf = new Intl.NumberFormat('en-US');
export const num = (n: number) => nf.format(n);
export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function peerLabel(p: Peer): string {
  // An MTA that never logs names (Exchange, Dovecot) has unnamed peers, not `unknown` ones.
  return `${p.host ?? (p.nameLogged === false ? '' : 'unknown')}[${p.ip}]`;
}

export function renderTable(r: ReportData, opts: TableOptions): string {
  const c = (code: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const out: string[] = [];
  const span = r.window.first
    ? `${r.window.first.slice(0, 16).replace('T', ' ')} → ${(r.window.last ?? '').slice(0, 16).replace('T', ' ')} UTC`
    : 'no sessions';
  out.push(c('bold', `tlscensus · ${span}${r.mtas.length ? ` · ${r.mtas.join(', ')}` : ''}`));
  for (const issue of r.sources.filter((s) => s.issue)) out.push(c('yellow', `warning: ${forTerminal(issue.issue!)}`));
  out.push('');
  renderDirection(out, 'INBOUND', r.inbound, opts, c);
  renderDirection(out, 'OUTBOUND', r.outbound, opts, c);
  if (r.mailbox.totals.sessions > 0) renderDirection(out, mailboxTitle(r), r.mailbox, opts, c);
  out.push(coverageLine(r));
  return `${out.join('\n')}\n`;
}

type Colorize = (code: keyof typeof ANSI, s: string) => string;

/** `IMAP/POP3 (imap, pop3)`: the mailbox section names the services it counts. */
export function mailboxTitle(r: ReportData): string {
  const services = r.services.filter(isMailboxService);
  return `IMAP/POP3${services.length > 0 ? ` (${services.join(', ')})` : ''}`;
}

function ratingColor(rating: Rating): keyof typeof ANSI {
  return rating === 'insecure' ? 'red' : rating === 'weak' ? 'yellow' : rating === 'unknown' ? 'dim' : 'green';
}

function renderDirection(out: string[], title: string, d: DirectionReport, opts: TableOptions, c: Colorize): void {
  const t = d.totals;
  const trusted = t.trusted ?? 0;
  const eligible = t.sessions - t.noCommand - t.incomplete - trusted;
  const tlsShare = eligible > 0 ? ` (${pct(t.tls / eligible)})` : '';
  out.push(
    c(
      'bold',
      `${title}  ${num(t.sessions)} sessions · ${num(t.tls)} TLS${tlsShare} · ${num(t.failed)} failed · ${num(t.plaintext)} plaintext${trustedNote(trusted)} · ${num(t.noCommand)} no command · ${num(t.messages)} messages`,
    ),
  );
  if (d.spread.length === 0) out.push('  no completed TLS handshakes');
  else out.push(...spreadTable(d.spread, c), ...spreadNotes(d.spread));
  if (d.failures.length > 0) {
    const total = d.failures.reduce((n, f) => n + f.count, 0);
    out.push(
      '',
      `  Failed handshakes: ${num(total)} from ${num(d.failures.length)} peer${d.failures.length === 1 ? '' : 's'}`,
    );
    const rows = d.failures.slice(0, opts.top).map((f) => [
      num(f.count),
      forTerminal(peerLabel(f.peer)),
      Object.entries(f.reasons)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    ]);
    for (const l of columns(['count', 'peer', 'reasons'], rows, [true, false, false])) out.push(`  ${l}`);
    if (d.failures.length > opts.top)
      out.push(`    … and ${num(d.failures.length - opts.top)} more (--format json lists all)`);
  }
  if (d.plaintext.length > 0) {
    const sessions = d.plaintext.reduce((n, p) => n + p.sessions, 0);
    const messages = d.plaintext.reduce((n, p) => n + p.messages, 0);
    out.push(
      '',
      `  Plaintext (no TLS): ${num(sessions)} session${sessions === 1 ? '' : 's'}, ${num(messages)} message${messages === 1 ? '' : 's'} from ${num(d.plaintext.length)} peer${d.plaintext.length === 1 ? '' : 's'}${fallbackNote(d.totals.fallback, d.totals.fallbackMessages)}`,
    );
    const rows = d.plaintext
      .slice(0, opts.top)
      .map((p) => [num(p.sessions), num(p.messages), forTerminal(peerLabel(p.peer)) + plaintextNote(p, c)]);
    for (const l of columns(['sessions', 'messages', 'peer'], rows, [true, true, false])) out.push(`  ${l}`);
    if (d.plaintext.length > opts.top)
      out.push(`    … and ${num(d.plaintext.length - opts.top)} more (--format json lists all)`);
  }
  out.push('');
}

/** ` · 3 trusted (no TLS, server-trusted)`, only when there are any (Dovecot `secured` logins). */
export function trustedNote(trusted: number): string {
  return trusted > 0 ? ` · ${num(trusted)} trusted (no TLS, server-trusted)` : '';
}

/** Why a row's protocol or suite is uncertain (Dovecot without %k, Exchange's algorithms), under the table. */
function spreadNotes(rows: readonly SpreadEntry[]): string[] {
  return rows
    .filter((r) => r.note)
    .map((r) => `  note: ${r.protocol} ${forTerminal(r.cipher)}: ${forTerminal(r.note!)}`);
}

/** The part of the plaintext that is TLS fallback: mail that a failed handshake pushed into the clear. */
function fallbackNote(sessions: number, messages: number): string {
  return sessions > 0
    ? `; ${num(sessions)} of them right after a failed handshake (fallback, ${num(messages)} message${messages === 1 ? '' : 's'})`
    : '';
}

function plaintextNote(p: PlaintextEntry, c: Colorize): string {
  if (p.fallbackSessions > 0) return c('red', `  (fell back after failed TLS: ${num(p.fallbackSessions)})`);
  return p.alsoFailedTls ? c('yellow', '  (also failed TLS)') : '';
}

function spreadTable(rows: readonly SpreadEntry[], c: Colorize): string[] {
  const body = rows.map((r) => [
    num(r.count),
    r.protocol,
    forTerminal(r.cipher),
    pct(r.share),
    r.rating,
    r.legacy ? 'legacy' : '',
    num(r.peers),
    num(r.unknownPeers),
  ]);
  const lines = columns(['count', 'protocol', 'cipher', 'share', 'rating', '', 'peers', 'unknown'], body, [
    true,
    false,
    false,
    true,
    false,
    false,
    true,
    true,
  ]);
  return lines.map((line, i) => {
    if (i === 0) return `  ${line}`;
    const row = rows[i - 1]!;
    const colored = row.rating === 'secure' || row.rating === 'recommended' ? line : c(ratingColor(row.rating), line);
    return `${row.legacy || row.rating === 'insecure' ? '! ' : '  '}${colored}`;
  });
}

/**
 * Aligns cells into columns; `right[i]` right-aligns column i. Widths count code points. Any number of rows: no
 * spread of them into a call's arguments (`Math.max(...)`, `push(...)`), which overflows the stack past about
 * 120,000 (`tlscensus peers` on the 1 GiB bench log, half a million peers, crashed so).
 */
export function columns(header: string[], rows: string[][], right: boolean[]): string[] {
  return [...columnLines(header, rows, (r) => r, right)];
}

/**
 * The lines of `columns` one by one, the cells of each row made by `cells` twice (once for the widths, once for
 * the line) instead of kept: half a million peers' cells were over a gigabyte.
 */
export function* columnLines<T>(
  header: string[],
  rows: readonly T[],
  cells: (row: T) => string[],
  right: boolean[],
): Generator<string> {
  const visible = (s: string) => [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;
  const widths = header.map((h) => visible(h));
  for (const row of rows) {
    const c = cells(row);
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, visible(c[i] ?? ''));
  }
  const fmt = (line: string[]) =>
    line
      .map((cell, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visible(cell)));
        return right[i] ? pad + cell : i === line.length - 1 ? cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  yield fmt(header);
  for (const row of rows) yield fmt(cells(row));
}

export function coverageLine(r: ReportData): string {
  const cov = r.coverage;
  const sessions = r.inbound.totals.sessions + r.outbound.totals.sessions + r.mailbox.totals.sessions;
  const tls = r.inbound.totals.tls + r.outbound.totals.tls + r.mailbox.totals.tls;
  return `coverage: ${num(cov.lines)} lines · ${num(cov.events)} events · ${num(cov.unrecognized)} unrecognized · ${num(cov.foreign)} foreign · ${num(cov.malformed)} malformed · ${num(sessions)} sessions · ${num(tls)} TLS${skippedNote(cov)}`;
}

/** The coverage line's last part when lines dated outside the window were skipped unparsed, else ''. */
export function skippedNote(c: Coverage): string {
  return c.skipped ? ` · ${num(c.skipped)} lines dated outside the window skipped` : '';
}
