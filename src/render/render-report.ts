// Picks the renderer for --format. New formats (html, prom) add one entry here.

import { renderCsv } from './csv.js';
import { renderMarkdown } from './markdown.js';
import type { ReportData } from './report-model.js';
import { renderTable } from './table.js';

export interface RenderOptions {
  color: boolean;
  top: number;
}

export const REPORT_FORMATS: Record<string, (r: ReportData, o: RenderOptions) => string> = {
  table: (r, o) => renderTable(r, o),
  json: (r) => `${JSON.stringify(r, null, 2)}\n`,
  csv: (r) => renderCsv(r),
  md: (r, o) => renderMarkdown(r, o.top),
};
