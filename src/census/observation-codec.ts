// Observations (and deferred lines) from a worker thread to the main thread, cheaply. Structured clone of the
// observation objects costs about a microsecond each way, more than interpreting the line did; this codec writes
// one tag byte and one number per field into typed arrays (moved, not copied, between threads) and passes
// strings in two arrays, which structured clone copies at memcpy speed as fresh flat strings: the strings of
// fields with few values (service, cipher, …) only once, into a table both sides keep in step, the rest (keys,
// peers, queue ids, details) as they come.
//
// Exactness: every field of every Observation kind is written; an object with a field this codec does not
// know (a dialect added one) is sent whole (structured clone), so the main thread always sees what the worker saw.

import type { Envelope, Observation, Peer } from '../model/types.js';

const V_ABSENT = 0;
const V_NULL = 1;
const V_FALSE = 2;
const V_TRUE = 3;
const V_NUM = 4;
const V_STR = 5;
const V_RAW = 6;
const V_UNDEFINED = 7;
const V_PEER = 8;

const OP_CONNECT = 16;
const OP_HANDSHAKE = 17;
const OP_FAILURE = 18;
const OP_FAILURE_DETAIL = 19;
const OP_STARTTLS_LOST = 20;
const OP_DISCONNECT = 21;
const OP_MESSAGE = 22;
const OP_DELIVERY = 23;
/** An object sent whole (in `raws`): an observation or envelope of a shape the codec does not know. */
const OP_OBJECT = 30;
const OP_DEFER_OBJECT = 29;
const OP_DEFER = 31;

/** Fields whose strings are interned (indexes into the last-value cache). */
const FIELDS = 14;

/** The interned-string table starts over when it has grown this big (log text must not grow memory). */
const MAX_STRINGS = 1 << 16;

export interface EncodedBatch {
  tags: Uint8Array;
  nums: Float64Array;
  /** The strings added to the table by this batch. */
  strings: string[];
  /** Empty the table before adding `strings`. */
  reset: boolean;
  /** Strings used about once (keys, peers, queue ids, details, deferred lines), and objects sent whole. */
  raws: unknown[];
}

export interface DecodedHandler {
  observe(o: Observation): void;
  defer(dialect: number, env: Envelope, text: string, lineNo: number): void;
}

function countKeys(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

export class ObservationEncoder {
  private tags = new Uint8Array(1 << 14);
  private nums = new Float64Array(1 << 14);
  private n = 0;
  private readonly table = new Map<string, number>();
  private readonly lastValue: (string | null)[] = new Array(FIELDS).fill(null);
  private readonly lastId: number[] = new Array(FIELDS).fill(0);
  private added: string[] = [];
  private reset = false;
  private raws: unknown[] = [];

  /** The items written since the last call; the arrays are the caller's to transfer. */
  take(): EncodedBatch {
    const batch: EncodedBatch = {
      tags: this.tags.slice(0, this.n),
      nums: this.nums.slice(0, this.n),
      strings: this.added,
      reset: this.reset,
      raws: this.raws,
    };
    this.n = 0;
    this.added = [];
    this.raws = [];
    this.reset = false;
    if (this.table.size >= MAX_STRINGS) {
      this.table.clear();
      this.lastValue.fill(null);
      this.reset = true;
    }
    return batch;
  }

  observe(o: Observation): void {
    if (!this.known(o)) {
      this.op(OP_OBJECT);
      this.raw(o);
      return;
    }
    switch (o.kind) {
      case 'connect':
        this.op(OP_CONNECT);
        this.base(o);
        this.peer(o.peer);
        return;
      case 'handshake':
        this.op(OP_HANDSHAKE);
        this.base(o);
        this.peer(o.peer);
        this.str(o.protocol, 3);
        this.str(o.cipher, 4);
        this.str(o.bits, 5);
        this.str(o.trust, 6);
        this.optStr('note' in o, o.note, 10);
        this.optStr('iana' in o, o.iana, 11);
        return;
      case 'failure':
        this.op(OP_FAILURE);
        this.base(o);
        this.peer(o.peer);
        this.str(o.reason, 7);
        this.rawValue(o.detail);
        return;
      case 'failure-detail':
        this.op(OP_FAILURE_DETAIL);
        this.base(o);
        this.str(o.reason, 7);
        this.rawValue(o.detail);
        return;
      case 'starttls-lost':
        this.op(OP_STARTTLS_LOST);
        this.base(o);
        this.peer(o.peer);
        return;
      case 'disconnect':
        this.op(OP_DISCONNECT);
        this.base(o);
        this.peer(o.peer);
        this.str(o.starttls, 8);
        this.num(o.commands);
        this.optBool('plaintext' in o, o.plaintext);
        this.optBool('trusted' in o, o.trusted);
        this.optBool('openOnly' in o, o.openOnly);
        return;
      case 'message':
        this.op(OP_MESSAGE);
        this.base(o);
        this.peer(o.peer);
        this.rawValue(o.queueId);
        this.optBool('plaintext' in o, (o as { plaintext?: boolean }).plaintext);
        return;
      case 'delivery':
        this.op(OP_DELIVERY);
        this.base(o);
        this.peer(o.peer);
        this.rawValue(o.queueId);
        this.str(o.status, 9);
        return;
    }
  }

  /** A line of a dialect that keeps state: the main thread interprets it. */
  defer(dialect: number, env: Envelope, text: string, lineNo: number): void {
    if (countKeys(env) !== 5) {
      this.op(OP_DEFER_OBJECT);
      this.raw([dialect, env, text, lineNo]);
      return;
    }
    this.op(OP_DEFER);
    this.num(dialect);
    this.num(lineNo);
    this.num(env.timeMs);
    this.str(env.host, 12);
    this.str(env.program, 13);
    this.num(env.pid);
    this.rawValue(env.message);
    this.rawValue(text);
  }

  /** Does the object have exactly the fields this codec writes for its kind? */
  private known(o: Observation): boolean {
    let fields: number;
    switch (o.kind) {
      case 'connect':
      case 'starttls-lost':
        fields = 7;
        break;
      case 'handshake':
        fields = 11 + ('note' in o ? 1 : 0) + ('iana' in o ? 1 : 0);
        break;
      case 'failure':
        fields = 9;
        break;
      case 'failure-detail':
        fields = 8;
        break;
      case 'disconnect':
        fields = 9 + ('plaintext' in o ? 1 : 0) + ('trusted' in o ? 1 : 0) + ('openOnly' in o ? 1 : 0);
        break;
      case 'message':
        fields = 8 + ('plaintext' in o ? 1 : 0);
        break;
      case 'delivery':
        fields = 9;
        break;
      default:
        return false;
    }
    if (countKeys(o) !== fields) return false;
    const peer = (o as { peer?: Peer | null }).peer;
    if (peer === undefined || peer === null) return true;
    return countKeys(peer) === ('nameLogged' in peer ? 3 : 2);
  }

  private base(o: Observation): void {
    this.str(o.mta, 0);
    this.str(o.service, 1);
    this.str(o.direction, 2);
    this.rawValue(o.key);
    this.num(o.timeMs);
  }

  private peer(p: Peer | null): void {
    if (p === null) {
      this.put(V_NULL, 0);
      return;
    }
    this.put(V_PEER, 'nameLogged' in p ? (p.nameLogged === false ? 2 : 1) : 0);
    this.rawValue(p.host);
    this.rawValue(p.ip);
  }

  private op(code: number): void {
    this.put(code, 0);
  }

  private put(tag: number, value: number): void {
    if (this.n === this.tags.length) {
      const tags = new Uint8Array(this.n * 2);
      tags.set(this.tags);
      this.tags = tags;
      const nums = new Float64Array(this.n * 2);
      nums.set(this.nums);
      this.nums = nums;
    }
    this.tags[this.n] = tag;
    this.nums[this.n] = value;
    this.n++;
  }

  private num(v: number | null | undefined): void {
    if (typeof v === 'number') this.put(V_NUM, v);
    else this.put(v === null ? V_NULL : V_UNDEFINED, 0);
  }

  /** A string from a field with few values: interned, and the field's last value is checked first. */
  private str(v: string | null | undefined, field: number): void {
    if (typeof v !== 'string') {
      this.put(v === null ? V_NULL : V_UNDEFINED, 0);
      return;
    }
    if (v === this.lastValue[field]) {
      this.put(V_STR, this.lastId[field]!);
      return;
    }
    let id = this.table.get(v);
    if (id === undefined) {
      id = this.table.size;
      this.table.set(v, id);
      this.added.push(v);
    }
    this.lastValue[field] = v;
    this.lastId[field] = id;
    this.put(V_STR, id);
  }

  private optStr(present: boolean, v: string | null | undefined, field: number): void {
    if (present) this.str(v, field);
    else this.put(V_ABSENT, 0);
  }

  private optBool(present: boolean, v: boolean | undefined): void {
    if (!present) this.put(V_ABSENT, 0);
    else if (v === undefined) this.put(V_UNDEFINED, 0);
    else this.put(v ? V_TRUE : V_FALSE, 0);
  }

  private rawValue(v: string | null | undefined): void {
    if (typeof v === 'string') this.raw(v);
    else this.put(v === null ? V_NULL : V_UNDEFINED, 0);
  }

  private raw(v: unknown): void {
    this.put(V_RAW, this.raws.length);
    this.raws.push(v);
  }
}

export class ObservationDecoder {
  private table: string[] = [];
  private tags: Uint8Array = new Uint8Array(0);
  private nums: Float64Array = new Float64Array(0);
  private raws: unknown[] = [];
  private i = 0;

  decode(batch: EncodedBatch, handler: DecodedHandler): void {
    if (batch.reset) this.table = [];
    const added = batch.strings;
    for (let k = 0; k < added.length; k++) this.table.push(added[k]!);
    this.tags = batch.tags;
    this.nums = batch.nums;
    this.raws = batch.raws;
    this.i = 0;
    const end = batch.tags.length;
    while (this.i < end) {
      const op = this.tags[this.i++]!;
      if (op === OP_DEFER) {
        const dialect = this.num() as number;
        const lineNo = this.num() as number;
        const timeMs = this.num();
        const host = this.str();
        const program = this.str() as string;
        const pid = this.num();
        const message = this.value() as string;
        const text = this.value() as string;
        handler.defer(dialect, { timeMs, host, program, pid, message }, text, lineNo);
      } else if (op === OP_OBJECT) {
        handler.observe(this.raws[this.nums[this.i++]!] as Observation);
      } else if (op === OP_DEFER_OBJECT) {
        handler.defer(...(this.raws[this.nums[this.i++]!] as [number, Envelope, string, number]));
      } else {
        handler.observe(this.observation(op));
      }
    }
    this.raws = [];
  }

  private observation(op: number): Observation {
    const mta = this.str() as string;
    const service = this.str() as string;
    const direction = this.str() as Observation['direction'];
    const key = this.str() as string;
    const timeMs = this.num();
    switch (op) {
      case OP_CONNECT:
        return { mta, service, direction, key, timeMs, kind: 'connect', peer: this.peer() as Peer };
      case OP_HANDSHAKE: {
        const o: Observation = {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'handshake',
          peer: this.peer(),
          protocol: this.str() as never,
          cipher: this.str() as string,
          bits: this.str(),
          trust: this.str(),
        };
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else o.note = this.value() as string;
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else o.iana = this.value() as string | null;
        return o;
      }
      case OP_FAILURE:
        return {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'failure',
          peer: this.peer(),
          reason: this.str() as never,
          detail: this.value() as string,
        };
      case OP_FAILURE_DETAIL:
        return {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'failure-detail',
          reason: this.str() as never,
          detail: this.value() as string,
        };
      case OP_STARTTLS_LOST:
        return { mta, service, direction, key, timeMs, kind: 'starttls-lost', peer: this.peer() };
      case OP_DISCONNECT: {
        const o: Observation = {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'disconnect',
          peer: this.peer(),
          starttls: this.str() as never,
          commands: this.num(),
        };
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else o.plaintext = this.value() as boolean;
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else o.trusted = this.value() as boolean;
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else o.openOnly = this.value() as boolean;
        return o;
      }
      case OP_MESSAGE: {
        const o: Observation = {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'message',
          peer: this.peer(),
          queueId: this.value() as string | null,
        };
        if (this.tags[this.i] === V_ABSENT) this.i++;
        else (o as { plaintext?: boolean }).plaintext = this.value() as boolean;
        return o;
      }
      case OP_DELIVERY:
        return {
          mta,
          service,
          direction,
          key,
          timeMs,
          kind: 'delivery',
          peer: this.peer() as Peer,
          queueId: this.value() as string | null,
          status: this.str() as string,
        };
      default:
        throw new Error(`observation codec: unknown item ${op}`);
    }
  }

  private peer(): Peer | null {
    const tag = this.tags[this.i]!;
    if (tag === V_NULL) {
      this.i++;
      return null;
    }
    const named = this.nums[this.i++]!;
    const host = this.str();
    const ip = this.str() as string;
    if (named === 0) return { host, ip };
    const p = { host, ip, nameLogged: named === 2 ? false : undefined } as Peer;
    return p;
  }

  private num(): number | null {
    return this.value() as number | null;
  }

  private str(): string | null {
    return this.value() as string | null;
  }

  private value(): string | number | boolean | null | undefined {
    const i = this.i++;
    switch (this.tags[i]) {
      case V_STR:
        return this.table[this.nums[i]!];
      case V_NUM:
        return this.nums[i];
      case V_NULL:
        return null;
      case V_RAW:
        return this.raws[this.nums[i]!] as string;
      case V_TRUE:
        return true;
      case V_FALSE:
        return false;
      default:
        return undefined;
    }
  }
}
