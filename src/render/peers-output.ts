// `tlscensus peers` output: one row per peer (or per domain with --by domain), in table, json, csv or md.
// JSON schema `tlscensus/peers@1` (README). Log-derived text is escaped per medium.

import type { GroupRow, PeerRow, SuiteUse } from '../aggregate/peer-rows.js';
import type { Coverage } from '../model/types.js';
import { jsonChunks } from './json-chunks.js';
import { forCsv, forMarkdown, forTerminal } from './sanitize.js';
import { columnLines, num, peerLabel, skippedNote } from './table.js';

export const PEERS_SCHEMA = 'tlscensus/peers@1';

export interface PeersData {
  schema: typeof PEERS_SCHEMA;
  by: 'peer' | 'domain';
  peers?: ReturnType<typeof peerJson>[];
  groups?: ReturnType<typeof groupJson>[];
  coverage: Coverage;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const suiteText = (s: SuiteUse | null) => (s ? `${s.protocol} ${s.cipher}` : '');

export function peerJson(r: PeerRow) {
  return {
    direction: r.section,
    peer: r.peer,
    domain: r.domain,
    network: r.network,
    firstSeen: iso(r.firstMs),
    lastSeen: iso(r.lastMs),
    sessions: r.sessions,
    messages: r.messages,
    tls: r.tls,
    plaintext: r.plaintext,
    failed: r.failed,
    noCommand: r.noCommand,
    plaintextMessages: r.plaintextMessages,
    fallbackSessions: r.fallbackSessions,
    fallbackMessages: r.fallbackMessages,
    protocols: r.protocols,
    suites: r.suites,
    best: r.best,
    worst: r.worst,
    rating: r.rating,
    legacy: r.legacy,
    reasons: r.reasons,
    certificates: r.certificates,
    mta: r.mtas,
    service: r.services,
  };
}

export function groupJson(g: GroupRow) {
  return {
    direction: g.section,
    group: g.group,
    domain: g.domain,
    peers: g.peers,
    addresses: g.addresses,
    sessions: g.sessions,
    messages: g.messages,
    tls: g.tls,
    plaintext: g.plaintext,
    failed: g.failed,
    protocols: g.protocols,
    best: g.best,
    worst: g.worst,
    rating: g.rating,
    legacy: g.legacy,
  };
}

export function peersData(rows: PeerRow[] | null, groups: GroupRow[] | null, coverage: Coverage): PeersData {
  const d: PeersData = { schema: PEERS_SCHEMA, by: groups ? 'domain' : 'peer', coverage };
  if (groups) d.groups = groups.map(groupJson);
  else d.peers = (rows ?? []).map(peerJson);
  return d;
}

const PEER_HEADER = ['dir', 'peer', 'domain', 'sessions', 'msgs', 'tls', 'plain', 'failed', 'best', 'worst', 'rating'];
const GROUP_HEADER = [
  'dir',
  'domain / network',
  'peers',
  'sessions',
  'msgs',
  'tls',
  'plain',
  'failed',
  'best',
  'worst',
  'rating',
];
const RIGHT_PEER = [false, false, false, true, true, true, true, true, false, false, false];
const RIGHT_GROUP = [false, false, true, true, true, true, true, true, false, false, false];

const shortDir = (s: string) => (s === 'inbound' ? 'in' : s === 'outbound' ? 'out' : 'mbox');

function peerCells(r: PeerRow, esc: (s: string) => string): string[] {
  return [
    shortDir(r.section),
    esc(peerLabel(r.peer)),
    esc(r.domain ?? ''),
    num(r.sessions),
    num(r.messages),
    num(r.tls),
    r.fallbackSessions > 0 ? `${num(r.plaintext)} (${num(r.fallbackSessions)} fb)` : num(r.plaintext),
    num(r.failed),
    esc(suiteText(r.best)),
    esc(suiteText(r.worst)),
    r.legacy ? `${r.rating} (legacy)` : r.rating,
  ];
}

function groupCells(g: GroupRow, esc: (s: string) => string): string[] {
  return [
    shortDir(g.section),
    esc(g.group),
    num(g.peers),
    num(g.sessions),
    num(g.messages),
    num(g.tls),
    num(g.plaintext),
    num(g.failed),
    esc(suiteText(g.best)),
    esc(suiteText(g.worst)),
    g.legacy ? `${g.rating} (legacy)` : g.rating,
  ];
}

/**
 * The output, in pieces of about CHUNK characters: half a million peers make over 100 MB of text, more than one
 * string may hold as JSON (V8's limit is about 512 MB) and more memory than the census itself in one piece. The
 * pieces joined are the whole output (`renderPeersText`).
 */
export function* renderPeers(
  format: string,
  rows: PeerRow[] | null,
  groups: GroupRow[] | null,
  coverage: Coverage,
): Generator<string> {
  const covLine = `coverage: ${num(coverage.lines)} lines · ${num(coverage.events)} events · ${num(coverage.unrecognized)} unrecognized · ${num(coverage.foreign)} foreign · ${num(coverage.malformed)} malformed${skippedNote(coverage)}`;
  switch (format) {
    case 'json':
      yield* jsonChunks(peersData(rows, groups, coverage));
      yield '\n';
      return;
    case 'csv': {
      const line = (cells: CsvCell[]) => cells.map((v) => forCsv(v)).join(',');
      yield* groups
        ? inPieces([CSV_GROUP_HEADER.join(',')], groups, (g) => line(groupCsvCells(g)), '\r\n', [])
        : inPieces([CSV_PEER_HEADER.join(',')], rows ?? [], (r) => line(peerCsvCells(r)), '\r\n', []);
      return;
    }
    case 'md': {
      const header = groups ? GROUP_HEADER : PEER_HEADER;
      const align = (groups ? RIGHT_GROUP : RIGHT_PEER).map((r) => (r ? '---:' : '---'));
      const head = [`| ${header.join(' | ')} |`, `|${align.join('|')}|`];
      const tail = ['', `_${covLine}_`];
      const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
      yield* groups
        ? inPieces(head, groups, (g) => line(groupCells(g, forMarkdown)), '\n', tail)
        : inPieces(head, rows ?? [], (r) => line(peerCells(r, forMarkdown)), '\n', tail);
      return;
    }
    default: {
      const lines = groups
        ? columnLines(GROUP_HEADER, groups, (g) => groupCells(g, forTerminal), RIGHT_GROUP)
        : columnLines(PEER_HEADER, rows ?? [], (r) => peerCells(r, forTerminal), RIGHT_PEER);
      const empty = (groups ?? rows ?? []).length === 0 ? ['(no peer matches)'] : [];
      let buffer = '';
      for (const line of lines) {
        buffer += `${line}\n`;
        if (buffer.length >= CHUNK) {
          yield buffer;
          buffer = '';
        }
      }
      yield `${buffer}${empty.map((l) => `${l}\n`).join('')}\n${covLine}\n`;
    }
  }
}

/** The whole output as one string (tests, small outputs). */
export function renderPeersText(...args: Parameters<typeof renderPeers>): string {
  return [...renderPeers(...args)].join('');
}

const CHUNK = 64 * 1024;

/** `head` lines, then `line(item)` for each item, then `tail` lines, each ended by `eol`, in pieces of CHUNK. */
function* inPieces<T>(
  head: readonly string[],
  items: readonly T[],
  line: (item: T) => string,
  eol: string,
  tail: readonly string[],
): Generator<string> {
  let buffer = head.map((l) => l + eol).join('');
  for (const item of items) {
    buffer += line(item) + eol;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = '';
    }
  }
  buffer += tail.map((l) => l + eol).join('');
  if (buffer !== '') yield buffer;
}

const CSV_GROUP_HEADER = [
  'direction',
  'group',
  'domain',
  'peers',
  'sessions',
  'messages',
  'tls',
  'plaintext',
  'failed',
  'best',
  'worst',
  'rating',
  'legacy',
];
const CSV_PEER_HEADER = [
  'direction',
  'host',
  'ip',
  'domain',
  'network',
  'first_seen',
  'last_seen',
  'sessions',
  'messages',
  'tls',
  'plaintext',
  'failed',
  'best',
  'worst',
  'rating',
  'legacy',
  'certificates',
];

type CsvCell = string | number | boolean | null;

function groupCsvCells(g: GroupRow): CsvCell[] {
  return [
    g.section,
    g.group,
    g.domain,
    g.peers,
    g.sessions,
    g.messages,
    g.tls,
    g.plaintext,
    g.failed,
    suiteText(g.best),
    suiteText(g.worst),
    g.rating,
    g.legacy,
  ];
}

function peerCsvCells(r: PeerRow): CsvCell[] {
  return [
    r.section,
    r.peer.host,
    r.peer.ip,
    r.domain,
    r.network,
    iso(r.firstMs),
    iso(r.lastMs),
    r.sessions,
    r.messages,
    r.tls,
    r.plaintext,
    r.failed,
    suiteText(r.best),
    suiteText(r.worst),
    r.rating,
    r.legacy,
    Object.entries(r.certificates)
      .map(([kind, n]) => `${kind}=${n}`)
      .join(' '),
  ];
}
