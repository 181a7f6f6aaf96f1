// A tagged template for HTML and SVG in which every interpolated value is escaped (sanitize.ts forHtml) unless
// it is already markup made by this template. Log text is written by strangers (DESIGN.md §5): with this, a
// renderer cannot forget to escape a value, because only `html`…`` results pass through unescaped.

import { forHtml } from './sanitize.js';

export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Markup | string | number | boolean | null | undefined | readonly Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false || v === true) return '';
  if (v instanceof Markup) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return forHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Markup {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + (strings[i + 1] ?? '');
  return new Markup(out);
}

/** Markup this program wrote itself (a stylesheet, a number it formatted): never log text. */
export function trusted(text: string): Markup {
  return new Markup(text);
}
