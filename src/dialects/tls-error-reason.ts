// Classifies TLS library error text into a FailureReason. Covers the OpenSSL layouts 1.0.x/1.1.x/3.x
// (`error:1408A0C1:SSL routines:SSL3_GET_CLIENT_HELLO:no shared cipher`, `error:0A000102:SSL routines::
// unsupported protocol`), GnuTLS sentences and errno texts (log-formats.md §3.3, §9). Order matters: the
// first matching rule wins, so specific reasons come before the generic `alert`.

import type { FailureReason } from '../model/types.js';

const RULES: ReadonlyArray<readonly [RegExp, FailureReason]> = [
  [
    /unsupported protocol|version too low|unsupported version|no protocols available|alert protocol version|illegal or unsupported version|error in protocol version|inappropriate fallback/i,
    'unsupported-protocol',
  ],
  [
    /no shared cipher|no ciphers available|no cipher match|could not negotiate a supported cipher|no supported cipher suites|alert handshake failure|insufficient security|no suitable signature algorithm|no shared signature algorithms/i,
    'no-shared-cipher',
  ],
  [
    /wrong version number|unknown protocol|http request|https proxy request|packet length too long|record layer failure|unexpected TLS packet|TLS packet with unexpected length/i,
    'wrong-version-number',
  ],
  [/certificate|unknown ca|bad certificate|\bcert\b|verify failed/i, 'certificate'],
  [/timed out|timeout/i, 'timeout'],
  [
    /unexpected eof|connection reset|lost connection|broken pipe|non-properly terminated|connection closed|closed by peer|\beof\b|syscall failed|end of file/i,
    'lost-connection',
  ],
  [/alert/i, 'alert'],
];

export function classifyTlsError(text: string): FailureReason {
  for (const [re, reason] of RULES) if (re.test(text)) return reason;
  return 'other';
}
