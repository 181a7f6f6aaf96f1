// `tlscensus whatif` output: the totals first ("under this policy: N peers / M sessions / K messages would lose
// TLS, …"), then the affected peers with the reasoning, then the coverage line. Table, JSON (schema
// `tlscensus/whatif@1`, README), CSV and Markdown. Log-derived text is escaped per medium.

import { type Coverage, serviceMatches } from '../model/types.js';
import {
  type PeerVerdict,
  type SectionPolicyJson,
  type SectionTotals,
  VERDICTS,
  type Verdict,
  type VerdictTotals,
  type WhatIfResult,
} from '../policy/whatif.js';
import type { WhatIfSection } from '../policy/whatif-policy.js';
import { jsonChunks } from './json-chunks.js';
import { forCsv, forMarkdown, forTerminal } from './sanitize.js';
import { columns, num, peerLabel, skippedNote } from './table.js';

export type WhatIfOutput = WhatIfResult & { coverage: Coverage };

export interface WhatIfRenderOptions {
  /** List unaffected peers too (table and Markdown; JSON and CSV always list every peer). */
  all: boolean;
  /** At most this many peers per section in table and Markdown output. */
  top: number;
}

const SECTION_TITLE: Record<WhatIfSection, string> = {
  inbound: 'INBOUND',
  outbound: 'OUTBOUND',
  mailbox: 'IMAP/POP3',
};

const MD_TITLE: Record<WhatIfSection, string> = { inbound: 'Inbound', outbound: 'Outbound', mailbox: 'IMAP/POP3' };

const PHRASE: Record<Verdict, string> = {
  refused: 'would be refused',
  'loses-tls': 'would lose TLS',
  downgraded: 'would be downgraded',
  undetermined: 'cannot be judged',
  unaffected: 'unaffected',
};

const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;

function triple(t: VerdictTotals): string {
  return `${plural(t.peers, 'peer')} / ${plural(t.sessions, 'session')} / ${plural(t.messages, 'message')}`;
}

function addTotals(a: VerdictTotals, b: VerdictTotals): VerdictTotals {
  return {
    peers: a.peers + b.peers,
    sessions: a.sessions + b.sessions,
    messages: a.messages + b.messages,
    affectedSessions: a.affectedSessions + b.affectedSessions,
  };
}

function sections(r: WhatIfResult): WhatIfSection[] {
  return (Object.keys(r.totals) as WhatIfSection[]).filter((s) => {
    const t = r.totals[s]!;
    return VERDICTS.some((v) => t[v].peers > 0);
  });
}

/** `under this policy: 3 peers / 6 sessions / 6 messages would lose TLS, 1 peer / … would be refused, …`. */
export function headline(r: WhatIfResult): string {
  const all = sections(r).map((s) => r.totals[s]!);
  const zero: VerdictTotals = { peers: 0, sessions: 0, messages: 0, affectedSessions: 0 };
  const sum = (v: Verdict) => all.reduce((acc, t) => addTotals(acc, t[v]), zero);
  const parts: string[] = [];
  for (const v of ['loses-tls', 'refused', 'downgraded', 'undetermined'] as const) {
    const t = sum(v);
    if (t.peers > 0 || v === 'loses-tls') parts.push(`${triple(t)} ${PHRASE[v]}`);
  }
  parts.push(`${plural(sum('unaffected').peers, 'peer')} unaffected`);
  return `under this policy: ${parts.join(', ')}`;
}

function sectionLine(section: WhatIfSection, t: SectionTotals): string {
  const parts = VERDICTS.filter((v) => t[v].peers > 0).map((v) =>
    v === 'unaffected' ? `${plural(t[v].peers, 'peer')} unaffected` : `${triple(t[v])} ${PHRASE[v]}`,
  );
  return `  ${section.padEnd(9)} ${parts.join(' · ')}`;
}

function policyLines(p: SectionPolicyJson | null): string[] {
  if (!p) return [];
  const out: string[] = [];
  if (p.allMandatory) out.push(`  policy: ${p.mandatory.summary}; TLS required for every session`);
  else {
    out.push(`  policy: ${p.opportunistic.summary}`);
    // With master.cf, the services it defines have their own lines below: the list is for the others.
    const others = p.mandatoryServices.filter(
      (name) => !p.services.some((s) => serviceMatches(s.service, new Set([name]))),
    );
    if (others.length > 0) {
      const which = p.services.length > 0 ? `services not in master.cf: ${others.join(', ')}` : others.join(', ');
      out.push(`  mandatory TLS (${which}): ${p.mandatory.summary}`);
    }
  }
  for (const n of p.notes) out.push(`  note: ${n}`);
  for (const service of p.services) {
    const entries = service.masterCf.map(
      (e) => `${e.name} line ${e.line}${e.overrides.length > 0 ? `: -o ${e.overrides.join(' -o ')}` : ''}`,
    );
    out.push(`  service ${service.service} (master.cf ${entries.join('; ')}):`);
    for (const sp of service.policies) {
      const which = service.policies.length > 1 ? `${sp.scope}: ` : '';
      out.push(
        sp.allMandatory
          ? `    ${which}${sp.mandatory.summary}; TLS required`
          : `    ${which}${sp.opportunistic.summary}; TLS optional`,
      );
      for (const n of sp.notes) out.push(`    note: ${n}`);
    }
  }
  return out;
}

function wrap(text: string, width: number, indent: string): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line.length > 0 && line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else line = line.length > 0 ? `${line} ${w}` : w;
  }
  if (line.length > 0) lines.push(indent + line);
  return lines;
}

function shown(r: WhatIfResult, section: WhatIfSection, o: WhatIfRenderOptions): PeerVerdict[] {
  return r.peers.filter((p) => p.section === section && (o.all || p.verdict !== 'unaffected')).slice(0, o.top);
}

function coverageLine(c: Coverage, r: WhatIfResult): string {
  const peers = r.peers.length;
  return `coverage: ${num(c.lines)} lines · ${num(c.events)} events · ${num(c.unrecognized)} unrecognized · ${num(c.foreign)} foreign · ${num(c.malformed)} malformed · ${plural(peers, 'peer')} judged${skippedNote(c)}`;
}

function span(r: WhatIfResult): string {
  return r.window.first
    ? `${r.window.first.slice(0, 16).replace('T', ' ')} → ${(r.window.last ?? '').slice(0, 16).replace('T', ' ')} UTC`
    : 'no sessions in the window';
}

function renderTable(r: WhatIfOutput, o: WhatIfRenderOptions): string {
  const out: string[] = [];
  out.push(
    `tlscensus whatif · ${forTerminal(r.policy.description)} · OpenSSL model: ${r.policy.openssl} · ${span(r)}`,
    '',
  );
  out.push(headline(r));
  for (const s of sections(r)) out.push(sectionLine(s, r.totals[s]!));
  for (const s of Object.keys(r.totals) as WhatIfSection[]) {
    const t = r.totals[s]!;
    const total = VERDICTS.reduce((n, v) => n + t[v].peers, 0);
    if (total === 0) continue;
    out.push('', `${SECTION_TITLE[s]}`);
    out.push(...policyLines(r.policy[s]).map(forTerminal));
    const rows = shown(r, s, o);
    if (rows.length === 0) {
      out.push('  (no peer affected)');
      continue;
    }
    const header = ['verdict', 'certainty', 'peer', 'service', 'sessions', 'msgs'];
    const cells = rows.map((p) => [
      p.verdict,
      p.certainty,
      forTerminal(peerLabel(p.peer)),
      forTerminal(p.services.join(',')),
      num(p.sessions),
      num(p.messages),
    ]);
    const lines = columns(header, cells, [false, false, false, false, true, true]);
    out.push(`  ${lines[0]}`);
    rows.forEach((p, i) => {
      out.push(`  ${lines[i + 1]}`);
      out.push(...wrap(forTerminal(p.reason), 100, '      '));
    });
    const hidden = r.peers.filter((p) => p.section === s && (o.all || p.verdict !== 'unaffected')).length - rows.length;
    if (hidden > 0) out.push(`  … ${plural(hidden, 'more peer')} (--top, or --format json for all)`);
  }
  if (r.policy.notes.length > 0) {
    out.push('');
    for (const n of r.policy.notes) out.push(`note: ${forTerminal(n)}`);
  }
  out.push('', coverageLine(r.coverage, r));
  return `${out.join('\n')}\n`;
}

function renderMarkdown(r: WhatIfOutput, o: WhatIfRenderOptions): string {
  const out: string[] = [];
  out.push(`# What if: ${forMarkdown(r.policy.description)}`, '');
  out.push(`OpenSSL model: ${r.policy.openssl} · ${span(r)}`, '');
  out.push(`**${headline(r)}**`, '');
  out.push('| section | verdict | peers | sessions | messages |', '|---|---|---:|---:|---:|');
  for (const s of Object.keys(r.totals) as WhatIfSection[]) {
    const t = r.totals[s]!;
    for (const v of VERDICTS) {
      if (t[v].peers > 0) out.push(`| ${s} | ${v} | ${t[v].peers} | ${t[v].sessions} | ${t[v].messages} |`);
    }
  }
  for (const s of Object.keys(r.totals) as WhatIfSection[]) {
    const rows = shown(r, s, o);
    if (rows.length === 0) continue;
    out.push('', `## ${MD_TITLE[s]}`, '');
    // (The lines of a master.cf service's settings, indented under it, as a nested list.)
    for (const line of policyLines(r.policy[s])) {
      out.push(`${line.startsWith('    ') ? '  - ' : '- '}${forMarkdown(line.trim())}`);
    }
    out.push('', '| verdict | certainty | peer | sessions | messages | reason |', '|---|---|---|---:|---:|---|');
    for (const p of rows) {
      out.push(
        `| ${p.verdict} | ${p.certainty} | ${forMarkdown(peerLabel(p.peer))} | ${p.sessions} | ${p.messages} | ${forMarkdown(p.reason)} |`,
      );
    }
  }
  if (r.policy.notes.length > 0) {
    out.push('');
    for (const n of r.policy.notes) out.push(`- note: ${forMarkdown(n)}`);
  }
  out.push('', `_${coverageLine(r.coverage, r)}_`, '');
  return out.join('\n');
}

function* renderCsv(r: WhatIfOutput): Generator<string> {
  const header = [
    'direction',
    'section',
    'host',
    'ip',
    'domain',
    'verdict',
    'certainty',
    'sessions',
    'messages',
    'affected_sessions',
    'services',
    'reason',
  ];
  const cells = (p: WhatIfOutput['peers'][number]) => [
    p.direction,
    p.section,
    p.peer.host,
    p.peer.ip,
    p.peer.domain,
    p.verdict,
    p.certainty,
    p.sessions,
    p.messages,
    p.affectedSessions,
    p.services.join(' '),
    p.reason,
  ];
  // In pieces: a line per peer, half a million of them at 1 GiB of log.
  let buffer = `${header.join(',')}\r\n`;
  for (const p of r.peers) {
    buffer += `${cells(p)
      .map((c) => forCsv(c))
      .join(',')}\r\n`;
    if (buffer.length >= 64 * 1024) {
      yield buffer;
      buffer = '';
    }
  }
  yield buffer;
}

export const WHATIF_FORMATS = ['table', 'json', 'csv', 'md'] as const;

/**
 * The output in pieces: JSON and CSV list every peer, and half a million of them made a 415 MB JSON string (V8
 * refuses strings past about 512 MB) and 2.6 GiB of memory.
 */
export function* renderWhatIf(format: string, r: WhatIfOutput, o: WhatIfRenderOptions): Generator<string> {
  switch (format) {
    case 'json':
      yield* jsonChunks(r);
      yield '\n';
      return;
    case 'csv':
      yield* renderCsv(r);
      return;
    case 'md':
      yield renderMarkdown(r, o);
      return;
    default:
      yield renderTable(r, o);
  }
}
