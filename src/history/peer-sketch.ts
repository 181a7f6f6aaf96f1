// Distinct peers per history bucket without keeping a single address: a HyperLogLog sketch (Flajolet et al.,
// "HyperLogLog: the analysis of a near-optimal cardinality estimation algorithm", 2007). Exact distinct counts
// of hours cannot be added up into days or months (a peer seen in two hours would count twice); sketches can
// (the register-wise maximum), so any period's distinct peers come from the same hourly rows. With 2^10
// registers the standard error is 1.04/√1024 ≈ 3.3 %. Like HyperLogLog++'s sparse mode, a sketch of few peers
// keeps their hashes instead, so the counts an admin acts on ("3 peers still use TLS 1.0") are exact.
//
// Privacy: only 24 bits of a peer's hash are ever used (10 pick the register, 14 give its rank), so each value a
// sketch holds matches about 256 IPv4 addresses: the file cannot tell which peer it was.

const P = 10;
export const SKETCH_REGISTERS = 1 << P;
const ALPHA = 0.7213 / (1 + 1.079 / SKETCH_REGISTERS);
/** Hashes kept exactly up to this many distinct peers (3 bytes each: less than the 1 KiB of registers). */
export const EXACT_MAX = 200;
/** Ranks are counted over 14 bits: at most 15, enough for some 30 million distinct peers. */
const RANK_BITS = 14;

const FORMAT_SPARSE = 1;
const FORMAT_DENSE = 2;
const FORMAT_EXACT = 3;

/** The top 24 bits of a 53-bit hash of a peer key (cyrb53, public domain). */
export function hashPeer(key: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // cyrb53's 53 bits are 2^32 · (h2 & 0x1fffff) + h1; their top 24 are the top 21 of that h2 part and 3 of h1.
  return (((h2 & 0x1fffff) << 3) | (h1 >>> 29)) >>> 0;
}

/** The register of a hash (its top 10 bits) and its rank (leading zeros of the other 14 bits, plus one). */
function placeOf(hash: number): [index: number, rank: number] {
  const rest = hash & ((1 << RANK_BITS) - 1);
  return [hash >>> RANK_BITS, rest === 0 ? RANK_BITS + 1 : Math.clz32(rest) - (32 - RANK_BITS) + 1];
}

export class PeerSketch {
  readonly registers: Uint8Array;
  /** The hashes themselves while there are at most EXACT_MAX of them; null once past. */
  private exact: Set<number> | null;

  constructor(registers?: Uint8Array, exact?: Set<number> | null) {
    this.registers = registers ?? new Uint8Array(SKETCH_REGISTERS);
    this.exact = exact === undefined ? (registers === undefined ? new Set() : null) : exact;
  }

  add(hash: number): void {
    const [index, rank] = placeOf(hash);
    if (rank > this.registers[index]!) this.registers[index] = rank;
    if (this.exact !== null) {
      this.exact.add(hash);
      if (this.exact.size > EXACT_MAX) this.exact = null;
    }
  }

  merge(other: PeerSketch): this {
    const r = this.registers;
    const o = other.registers;
    for (let i = 0; i < SKETCH_REGISTERS; i++) if (o[i]! > r[i]!) r[i] = o[i]!;
    if (this.exact !== null && other.exact !== null) {
      for (const h of other.exact) this.exact.add(h);
      if (this.exact.size > EXACT_MAX) this.exact = null;
    } else this.exact = null;
    return this;
  }

  /** A sketch that came through structured clone (a range census's thread): its prototype put back. */
  static revive(cloned: PeerSketch): PeerSketch {
    return cloned instanceof PeerSketch ? cloned : (Object.setPrototypeOf(cloned, PeerSketch.prototype) as PeerSketch);
  }

  copy(): PeerSketch {
    return new PeerSketch(new Uint8Array(this.registers), this.exact === null ? null : new Set(this.exact));
  }

  /** The number of distinct keys added: exact while few, else the HyperLogLog estimate (rounded). */
  estimate(): number {
    if (this.exact !== null) return this.exact.size;
    let sum = 0;
    let zeros = 0;
    for (const x of this.registers) {
      sum += 2 ** -x;
      if (x === 0) zeros++;
    }
    const m = SKETCH_REGISTERS;
    const raw = (ALPHA * m * m) / sum;
    // Small range: linear counting over the empty registers is far more accurate there.
    const e = raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw;
    return Math.round(e);
  }

  /** The hashes while few, else the registers: sparse (index u16 LE, rank u8) while smaller than dense. */
  encode(): Buffer {
    if (this.exact !== null) {
      const out = Buffer.alloc(1 + this.exact.size * 3);
      out[0] = FORMAT_EXACT;
      let o = 1;
      for (const h of [...this.exact].sort((a, b) => a - b)) {
        out.writeUIntLE(h, o, 3);
        o += 3;
      }
      return out;
    }
    let nonZero = 0;
    for (const x of this.registers) if (x !== 0) nonZero++;
    if (nonZero * 3 < SKETCH_REGISTERS) {
      const out = Buffer.alloc(1 + nonZero * 3);
      out[0] = FORMAT_SPARSE;
      let o = 1;
      for (let i = 0; i < SKETCH_REGISTERS; i++) {
        const x = this.registers[i]!;
        if (x === 0) continue;
        out.writeUInt16LE(i, o);
        out[o + 2] = x;
        o += 3;
      }
      return out;
    }
    const out = Buffer.alloc(1 + SKETCH_REGISTERS);
    out[0] = FORMAT_DENSE;
    out.set(this.registers, 1);
    return out;
  }

  /** Null when the bytes are not a sketch this version wrote. */
  static decode(blob: Uint8Array): PeerSketch | null {
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (b.length >= 1 && b[0] === FORMAT_EXACT && (b.length - 1) % 3 === 0 && (b.length - 1) / 3 <= EXACT_MAX) {
      const s = new PeerSketch();
      for (let o = 1; o < b.length; o += 3) s.add(b.readUIntLE(o, 3));
      return s;
    }
    if (b.length === 1 + SKETCH_REGISTERS && b[0] === FORMAT_DENSE) {
      const r = new Uint8Array(SKETCH_REGISTERS);
      r.set(b.subarray(1));
      return r.every((x) => x <= RANK_BITS + 1) ? new PeerSketch(r, null) : null;
    }
    if (b.length >= 1 && b[0] === FORMAT_SPARSE && (b.length - 1) % 3 === 0) {
      const r = new Uint8Array(SKETCH_REGISTERS);
      for (let o = 1; o < b.length; o += 3) {
        const i = b.readUInt16LE(o);
        const x = b[o + 2]!;
        if (i >= SKETCH_REGISTERS || x > RANK_BITS + 1) return null;
        r[i] = x;
      }
      return new PeerSketch(r, null);
    }
    return null;
  }
}
