// Picks the renderer for --format. Every renderer draws the same ReportData, so formats cannot disagree.
// `prom` returns a promise (prom-client's Registry#metrics is asynchronous): callers await every result.

import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { renderProm } from './prom.js';
import type { ReportData } from './report-model.js';
import { renderTable } from './table.js';

export interface RenderOptions {
  color: boolean;
  top: number;
}

export const REPORT_FORMATS: Record<string, (r: ReportData, o: RenderOptions) => string | Promise<string>> = {
  table: (r, o) => renderTable(r, o),
  json: (r) => `${JSON.stringify(r, null, 2)}\n`,
  csv: (r) => renderCsv(r),
  md: (r, o) => renderMarkdown(r, o.top),
  html: (r, o) => renderHtml(r, { top: o.top }),
  prom: (r) => renderProm(r),
};
