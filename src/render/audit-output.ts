// `tlscensus audit` output: the findings (errors first), then — with logs — the proposed main.cf block with each
// line's what-if impact, then the coverage line. Table, JSON (schema `tlscensus/audit@1`, README), CSV, Markdown.

import type { Coverage } from '../model/types.js';
import { AUDIT_SCHEMA, type Finding, SEVERITIES, type Severity } from '../policy/audit.js';
import { type Proposal, proposalText } from '../policy/audit-proposal.js';
import { forCsv, forMarkdown, forTerminal } from './sanitize.js';
import { num, skippedNote } from './table.js';

export interface AuditImpactJson {
  broken: number;
  downgrades: number;
  brokenPeers: string[];
  downgradedPeers: string[];
  tighter?: { value: string; broken: number; brokenPeers: string[] } | null;
}

export interface AuditData {
  schema: typeof AUDIT_SCHEMA;
  mainCf: string;
  /** The master.cf audited with it, or null. */
  masterCf: string | null;
  counts: Record<Severity, number>;
  findings: Finding[];
  /** The proposed settings, parameter → value; null without logs. */
  proposal: Record<string, string> | null;
  /** What-if impact of each proposed line alone, and `total` of all together; null without logs. */
  impact: (Record<string, AuditImpactJson | string[]> & { total?: AuditImpactJson; baseline?: string[] }) | null;
  /** Parameters the proposal removes, with why. */
  remove: { parameter: string; why: string }[];
  maxBroken: number | null;
  window: { first: string | null; last: string | null } | null;
  coverage: Coverage | null;
}

export function auditData(
  mainCf: string,
  masterCf: string | null,
  findings: Finding[],
  proposal: Proposal | null,
  window: { first: string | null; last: string | null } | null,
  coverage: Coverage | null,
): AuditData {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  let impact: AuditData['impact'] = null;
  if (proposal) {
    impact = {};
    for (const line of proposal.lines) {
      if (!line.impact) continue;
      impact[line.parameter] = {
        broken: line.impact.broken.length,
        downgrades: line.impact.downgraded.length,
        brokenPeers: line.impact.broken,
        downgradedPeers: line.impact.downgraded,
        tighter: line.impact.tighter
          ? {
              value: line.impact.tighter.value,
              broken: line.impact.tighter.broken.length,
              brokenPeers: line.impact.tighter.broken,
            }
          : null,
      };
    }
    impact.total = {
      broken: proposal.total.broken.length,
      downgrades: proposal.total.downgraded.length,
      brokenPeers: proposal.total.broken,
      downgradedPeers: proposal.total.downgraded,
    };
    impact.baseline = proposal.baseline;
  }
  return {
    schema: AUDIT_SCHEMA,
    mainCf,
    masterCf,
    counts,
    findings,
    proposal: proposal ? Object.fromEntries(proposal.lines.map((l) => [l.parameter, l.value])) : null,
    impact,
    remove: proposal?.remove ?? [],
    maxBroken: proposal?.maxBroken ?? null,
    window,
    coverage,
  };
}

function span(w: AuditData['window']): string {
  return w?.first
    ? `${w.first.slice(0, 16).replace('T', ' ')} → ${(w.last ?? '').slice(0, 16).replace('T', ' ')} UTC`
    : 'no sessions in the window';
}

function coverageLine(c: Coverage): string {
  return `coverage: ${num(c.lines)} lines · ${num(c.events)} events · ${num(c.unrecognized)} unrecognized · ${num(c.foreign)} foreign · ${num(c.malformed)} malformed${skippedNote(c)}`;
}

/** `main.cf` or `main.cf with master.cf …`: what was audited. */
function files(d: AuditData): string {
  return d.masterCf === null ? d.mainCf : `${d.mainCf} with master.cf ${d.masterCf}`;
}

function countsText(d: AuditData): string {
  return SEVERITIES.map((s) => `${d.counts[s]} ${s}${d.counts[s] === 1 || s === 'info' ? '' : 's'}`).join(', ');
}

function renderTable(d: AuditData, proposal: Proposal | null): string {
  const out: string[] = [`tlscensus audit · ${forTerminal(files(d))} · ${countsText(d)}`, ''];
  for (const f of d.findings) {
    const where = f.line !== null ? ` (${f.file === 'master.cf' ? 'master.cf ' : ''}line ${f.line})` : '';
    out.push(`${f.severity.toUpperCase().padEnd(7)} ${f.id} · ${forTerminal(f.parameter)}${where}`);
    out.push(`        ${forTerminal(f.message)}`);
    out.push(`        fix: ${forTerminal(f.fix)}`);
  }
  if (d.findings.length === 0) out.push('no findings');
  if (proposal) {
    out.push('', proposalText(proposal, span(d.window), forTerminal).trimEnd());
  } else if (d.coverage) {
    out.push('', 'No SMTP session in the logs read: no policy is fitted to them.');
  } else {
    out.push('', 'Give the mail log too (tlscensus audit --main-cf FILE LOG…) for a policy fitted to the traffic.');
  }
  if (d.coverage) out.push('', coverageLine(d.coverage));
  return `${out.join('\n')}\n`;
}

function renderMarkdown(d: AuditData, proposal: Proposal | null): string {
  const out: string[] = [`# TLS audit of ${forMarkdown(files(d))}`, '', countsText(d), ''];
  out.push('| severity | id | parameter | line | finding | fix |', '|---|---|---|---:|---|---|');
  for (const f of d.findings) {
    const line = f.line === null ? '' : f.file === 'master.cf' ? `master.cf:${f.line}` : `${f.line}`;
    out.push(
      `| ${f.severity} | ${f.id} | ${forMarkdown(f.parameter)} | ${line} | ${forMarkdown(f.message)} | ${forMarkdown(f.fix)} |`,
    );
  }
  if (proposal) {
    // Inside a fenced block nothing is interpreted; only a fence could end it early, and none can occur here.
    out.push('', '## Proposed policy', '', '```', proposalText(proposal, span(d.window), forTerminal).trimEnd(), '```');
  } else if (d.coverage) {
    out.push('', 'No SMTP session in the logs read: no policy is fitted to them.');
  }
  if (d.coverage) out.push('', `_${coverageLine(d.coverage)}_`);
  out.push('');
  return out.join('\n');
}

function renderCsv(d: AuditData): string {
  const header = ['severity', 'id', 'parameter', 'line', 'message', 'fix', 'file', 'service'];
  const rows = d.findings.map((f) => [
    f.severity,
    f.id,
    f.parameter,
    f.line,
    f.message,
    f.fix,
    f.file ?? 'main.cf',
    f.service ?? '',
  ]);
  return `${[header.join(','), ...rows.map((cells) => cells.map((c) => forCsv(c)).join(','))].join('\r\n')}\r\n`;
}

export const AUDIT_FORMATS = ['table', 'json', 'csv', 'md'] as const;

export function renderAudit(format: string, d: AuditData, proposal: Proposal | null): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(d, null, 2)}\n`;
    case 'csv':
      return renderCsv(d);
    case 'md':
      return renderMarkdown(d, proposal);
    default:
      return renderTable(d, proposal);
  }
}
