/**
 * JSON text written byte by byte into a shared slab, for the answers sent thousands of times a second: what is
 * sent is a view of the slab (a Buffer), so Node neither measures a string for Content-Length nor converts it to
 * UTF-8 on the way to the socket, and no answer has a backing store of its own for the garbage collector to
 * track. A slab is never written twice: when one fills, the next answer starts a new one, and the old is freed
 * once the last answer viewing it has been written out.
 *
 * bench:query, 50-channel lookups (docs/performance.md): measuring and converting the answer string were 18.5%
 * of the HTTP thread's time.
 */

/** A slab holds many answers: an answer of 50 read states is ~8 KB. */
const SLAB_BYTES = 1 << 20;
const QUOTE = 0x22;
const ZERO = 0x30;
const NINE = 0x39;

export class JsonBytes {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private start = 0;
  private at = 0;

  /** Starts an answer. */
  begin(): this {
    this.start = this.at;
    return this;
  }

  /** The answer written since `begin`, as a view of the slab that stays valid. */
  end(): Buffer {
    return this.slab.subarray(this.start, this.at);
  }

  /** Text known to need no escaping and to be ASCII: the JSON's own keys and punctuation. */
  raw(text: string): this {
    const length = text.length;
    this.reserve(length);
    const slab = this.slab;
    let at = this.at;
    for (let i = 0; i < length; i++) slab[at++] = text.charCodeAt(i);
    this.at = at;
    return this;
  }

  /**
   * A JSON string. Ids are decimal digits (validated on the way in, or formatted here), copied as they are; any
   * other text (an id a peer sent, say) is escaped by JSON.stringify and written as UTF-8.
   */
  string(text: string): this {
    const length = text.length;
    this.reserve(length + 2);
    const slab = this.slab;
    let at = this.at;
    slab[at++] = QUOTE;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code < ZERO || code > NINE) return this.escaped(text);
      slab[at++] = code;
    }
    slab[at++] = QUOTE;
    this.at = at;
    return this;
  }

  /** A JSON string, or `null`. */
  stringOrNull(text: string | null): this {
    return text === null ? this.raw('null') : this.string(text);
  }

  /** A number: a count (a non-negative integer) digit by digit, anything else as JSON.stringify writes it. */
  number(value: number): this {
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Math.floor(value) === value)) {
      return this.raw(JSON.stringify(value));
    }
    this.reserve(16);
    const slab = this.slab;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      slab[--at] = ZERO + (rest - next * 10);
      rest = next;
    } while (rest > 0);
    return this;
  }

  private escaped(text: string): this {
    const json = JSON.stringify(text);
    const bytes = Buffer.byteLength(json);
    this.reserve(bytes);
    this.at += this.slab.write(json, this.at, 'utf8');
    return this;
  }

  /** Room for `bytes` more: a new slab when this one is full, the answer so far carried over. */
  private reserve(bytes: number): void {
    if (this.at + bytes <= this.slab.length) return;
    const sofar = this.at - this.start;
    const next = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, 2 * (sofar + bytes)));
    this.slab.copy(next, 0, this.start, this.at);
    this.slab = next;
    this.start = 0;
    this.at = sofar;
  }
}
