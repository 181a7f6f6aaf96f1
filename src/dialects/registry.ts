// The list of dialects: adding an MTA is one file in this folder, one fixture, and one line here (DESIGN.md §4).

import type { Dialect } from './dialect.js';
import { dovecot } from './dovecot.js';
import { exchange } from './exchange.js';
import { exim } from './exim.js';
import { opensmtpd } from './opensmtpd.js';
import { postfix } from './postfix.js';
import { sendmail } from './sendmail.js';

export const DIALECTS: readonly Dialect[] = [postfix, opensmtpd, dovecot, exchange, exim, sendmail];

export function dialectIds(): string[] {
  return DIALECTS.map((d) => d.id);
}
