// The HTML report's what-if section: what common policies (minimum protocol TLS 1.2, no legacy ciphers, …)
// would break, from src/policy/whatif*.ts once that exists. Until then this hook renders nothing, and the
// report is complete without it.
//
// To fill it in: compute the summaries from the ReportData (or add them to the report model), and return
// `html`…`` markup built with html-escape.ts so every peer or cipher name is escaped like the rest of the page.

import { html, type Markup } from './html-escape.js';
import type { ReportData } from './report-model.js';

export function renderWhatIfSection(_report: ReportData): Markup {
  return html``;
}
