// V8's young generation holds what a chunk of log lines allocates (envelopes, observations, sessions) until the
// census is done with it. At the default 16 MiB semi-space much of that outlives a scavenge and is copied or
// promoted, and garbage collection took a sixth of a census; 64 MiB saves about half of that for a few MiB of
// memory (bench log, 1 GiB). V8 flags are per process and also reach the worker threads started later. Only
// the command line sets this: a program using the library keeps its own settings. Imported first by main.ts.

import v8 from 'node:v8';

v8.setFlagsFromString('--max-semi-space-size=64');
