// The HTML report's what-if section: what common policies (no SSLv3, minimum TLS 1.2, Mozilla intermediate
// ciphers, no weak ciphers) would do to the peers of the window — from `ReportData.whatIf`, which the report
// command fills for `--format html` (policy/whatif.ts summarizeCommonPolicies). Without it the section is empty.
// Every value goes through the `html` template (html-escape.ts): peer names and reasons are log text.

import type { SectionTotals, Verdict, WhatIfSummary } from '../policy/whatif.js';
import type { WhatIfSection } from '../policy/whatif-policy.js';
import { html, type Markup } from './html-escape.js';
import type { ReportData } from './report-model.js';

const nf = new Intl.NumberFormat('en-US');
const num = (n: number) => nf.format(n);
const count = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;

const SECTION: Record<WhatIfSection, string> = { inbound: 'inbound', outbound: 'outbound', mailbox: 'IMAP/POP3' };
const COLUMNS: readonly { verdict: Verdict; title: string }[] = [
  { verdict: 'loses-tls', title: 'would lose TLS' },
  { verdict: 'refused', title: 'would be refused' },
  { verdict: 'downgraded', title: 'downgraded' },
  // As every `whatif` output lists them: left out, the peers whose handshakes the log does not describe (Dovecot
  // logins without a version, smtpd_tls_loglevel 0) vanished, and IMAP/POP3 looked unaffected (review).
  { verdict: 'undetermined', title: 'cannot be judged' },
  { verdict: 'unaffected', title: 'unaffected' },
];
const BADGE: Record<Verdict, string> = {
  refused: 'badge b-failed',
  'loses-tls': 'badge b-legacy',
  downgraded: 'badge r-weak',
  undetermined: 'badge r-unknown',
  unaffected: 'badge r-secure',
};

function cell(t: SectionTotals, v: Verdict): Markup {
  const x = t[v];
  if (x.peers === 0) return html`<td class="n">–</td>`;
  return html`<td class="n">${count(x.peers, 'peer')}<br>${count(x.sessions, 'session')}<br>${count(x.messages, 'message')}</td>`;
}

function policyBlock(s: WhatIfSummary): Markup {
  const sections = (Object.keys(s.totals) as WhatIfSection[]).filter((k) => {
    const t = s.totals[k]!;
    return Object.values(t).some((x) => x.peers > 0);
  });
  if (sections.length === 0) return html``;
  const rows = sections.map((k) => {
    const t = s.totals[k]!;
    return html`<tr><td>${SECTION[k]}</td>${COLUMNS.map((c) => cell(t, c.verdict))}</tr>`;
  });
  const affected =
    s.affected.length === 0
      ? html`<p class="empty">No peer in this window would be affected, and every one could be judged.</p>`
      : html`<div class="scroll"><table>
<thead><tr><th>verdict</th><th>peer</th><th class="n">sessions</th><th class="n">messages</th><th>why</th></tr></thead>
<tbody>${s.affected.map(
          (p) =>
            html`<tr><td><span class="${BADGE[p.verdict]}">${p.verdict}</span><br><span class="sub">${p.certainty}</span></td><td class="c"><span class="mono">${p.peer.host ?? (p.peer.nameLogged === false ? '–' : 'unknown')}</span><span class="iana">${p.peer.ip} · ${SECTION[p.section]}</span></td><td class="n">${num(p.sessions)}</td><td class="n">${num(p.messages)}</td><td class="x">${p.reason}</td></tr>`,
        )}</tbody></table></div>`;
  return html`<h3>${s.title}</h3>
<div class="scroll"><table>
<thead><tr><th>direction</th>${COLUMNS.map((c) => html`<th class="n">${c.title}</th>`)}</tr></thead>
<tbody>${rows}</tbody></table></div>
${affected}`;
}

export function renderWhatIfSection(report: ReportData): Markup {
  const summaries = report.whatIf;
  if (!summaries || summaries.length === 0) return html``;
  return html`<section>
<h2>What if…</h2>
<p class="sub">What common policies would do to the peers of this window. <em>Lose TLS</em>: opportunistic TLS (port 25, outbound) falls back to plaintext or fails; <em>refused</em>: where TLS is required (submission, smtps, IMAP/POP3) the peer could no longer connect; <em>downgraded</em>: keeps TLS with another version or suite it was seen using; <em>cannot be judged</em>: the log does not say which protocol or suite the peer used (e.g. <code>smtpd_tls_loglevel = 0</code>, IMAP/POP3 logins logged without the version). Run <code>tlscensus whatif</code> for any other policy, or a main.cf.</p>
${summaries.map(policyBlock)}
</section>`;
}
