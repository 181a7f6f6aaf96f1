// Heavy dependencies load on first use, not when the command line starts: every command would otherwise pay
// for all of them (prom-client, tldts and better-sqlite3 are about 100 ms of a 220 ms start, measured with
// `tlscensus --version`), and a `report` of a day's log needs none. They are CommonJS packages, so `require`
// loads them synchronously where they are first needed.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function that returns the module `id`, loading it the first time it is called. */
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(id) as T;
    return loaded;
  };
}
