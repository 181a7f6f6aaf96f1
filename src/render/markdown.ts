// The report as Markdown (for tickets and wikis). Log-derived text goes through forMarkdown.

import type { DirectionReport, ReportData } from './report-model.js';
import { forMarkdown } from './sanitize.js';
import { coverageLine, mailboxTitle, num, pct, peerLabel, trustedNote } from './table.js';

export function renderMarkdown(r: ReportData, top: number): string {
  const out: string[] = ['# TLS census', ''];
  if (r.window.first)
    out.push(`Sessions from ${r.window.first} to ${r.window.last} · MTAs: ${r.mtas.join(', ') || 'none'}`, '');
  for (const s of r.sources.filter((x) => x.issue)) out.push(`> **warning:** ${forMarkdown(s.issue!)}`, '');
  section(out, 'Inbound', r.inbound, top);
  section(out, 'Outbound', r.outbound, top);
  if (r.mailbox.totals.sessions > 0) section(out, mailboxTitle(r), r.mailbox, top);
  out.push(`_${coverageLine(r)}_`, '');
  return out.join('\n');
}

function section(out: string[], title: string, d: DirectionReport, top: number): void {
  const t = d.totals;
  out.push(
    `## ${title}`,
    '',
    `${num(t.sessions)} sessions · ${num(t.tls)} TLS · ${num(t.failed)} failed · ${num(t.plaintext)} plaintext${trustedNote(t.trusted ?? 0)} · ${num(t.noCommand)} no command · ${num(t.messages)} messages`,
    '',
  );
  if (d.spread.length > 0) {
    out.push('| count | protocol | cipher | share | rating | peers | unknown |', '|---:|---|---|---:|---|---:|---:|');
    for (const s of d.spread) {
      const rating = s.legacy || s.rating === 'insecure' ? `**${s.rating}**${s.legacy ? ' (legacy)' : ''}` : s.rating;
      out.push(
        `| ${num(s.count)} | ${s.protocol} | ${forMarkdown(s.cipher)} | ${pct(s.share)} | ${rating} | ${num(s.peers)} | ${num(s.unknownPeers)} |`,
      );
    }
    out.push('');
  }
  if (d.failures.length > 0) {
    out.push('### Failed handshakes', '', '| count | peer | reasons |', '|---:|---|---|');
    for (const f of d.failures.slice(0, top)) {
      const reasons = Object.entries(f.reasons)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      out.push(`| ${num(f.count)} | ${forMarkdown(peerLabel(f.peer))} | ${reasons} |`);
    }
    if (d.failures.length > top) out.push(`| … | ${num(d.failures.length - top)} more | |`);
    out.push('');
  }
  if (d.plaintext.length > 0) {
    out.push('### Plaintext sessions', '');
    if (d.totals.fallback > 0) {
      out.push(
        `**${num(d.totals.fallback)}** of them came right after a failed handshake of the same peer (TLS fallback, ${num(d.totals.fallbackMessages)} messages).`,
        '',
      );
    }
    out.push('| sessions | messages | peer | fallback |', '|---:|---:|---|---:|');
    for (const p of d.plaintext.slice(0, top))
      out.push(
        `| ${num(p.sessions)} | ${num(p.messages)} | ${forMarkdown(peerLabel(p.peer))} | ${num(p.fallbackSessions)} |`,
      );
    if (d.plaintext.length > top) out.push(`| … | | ${num(d.plaintext.length - top)} more |`);
    out.push('');
  }
}
