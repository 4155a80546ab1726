import { rm } from 'node:fs/promises';
import type { ChannelState } from '../projection/compact/channelState.ts';
import { ENTRY_WORDS, type BlockSpill } from '../projection/compact/countedIds.ts';
import { openRocksDatabase, type RocksDatabase, type WriteOperation } from './rocksDatabase.ts';

/** The spill's directory under DATA_DIR (beside the generations, which generations.ts keeps). */
export const SPILL_DIRECTORY = 'spill';

/** Bytes of a serial in a key: 2^48 blocks parked in one run. */
const SERIAL_BYTES = 6;
/**
 * Blocks read ahead and not read yet, at most (8 MiB of blocks of 128 entries): a channel with more parked
 * reads the rest synchronously, as before, rather than hold all of it in memory at once; and a read ahead that
 * guessed wrong (the channel changed meanwhile) leaves its blocks here until the next one pushes them out.
 */
const MAX_READ_AHEAD = 4_096;

/**
 * Where resident channels' cold blocks wait while out of memory (CountedIds.parkCold): a RocksDB of its own, not
 * the state's. Nothing durable depends on it: a channel's snapshot holds its every entry (written from the spill
 * when parked), so the spill is a cache of this run's memory, emptied when it opens, and written without fsync.
 *
 * Blocks parked during a chunk wait in memory and reach RocksDB together at `flush()`, one write; a read before
 * that finds them there. Discards ride along with the next flush.
 */
export class RocksBlockSpill implements BlockSpill {
  readonly #db: RocksDatabase;
  #next = 1;
  readonly #pending = new Map<number, Buffer>();
  /** Blocks `readAhead` brought in, each until its one read (or its discard). */
  readonly #readAhead = new Map<number, Buffer>();
  readonly #unreachable = new FinalizationRegistry<number[]>((serials) => {
    for (const serial of serials) this.discard(serial);
  });
  #operations: WriteOperation[] = [];
  parked = 0;
  loads = 0;
  /** Reads that went to RocksDB on the calling thread: neither parked in this chunk nor read ahead. */
  syncReads = 0;
  /** Blocks read ahead (`readAhead`). */
  readAheadBlocks = 0;
  /** Why the last flush failed, until one succeeds. */
  lastFailure: Error | undefined;

  /** A spill in `db`, which it takes over (and closes); empty, as open() makes sure. */
  constructor(db: RocksDatabase) {
    this.#db = db;
  }

  /** Opens an empty spill at `path`: whatever an earlier run left there is deleted first. */
  static async open(path: string): Promise<RocksBlockSpill> {
    await rm(path, { recursive: true, force: true });
    return new RocksBlockSpill(await openRocksDatabase(path));
  }

  park(entries: Uint32Array, size: number): number {
    const serial = this.#next++;
    // A view, not a copy: the block gave its array up, so nothing changes it before the write copies it.
    const value = Buffer.from(entries.buffer, entries.byteOffset, size * ENTRY_WORDS * 4);
    this.#pending.set(serial, value);
    this.#operations.push({ type: 'put', key: keyOf(serial), value });
    this.parked++;
    return serial;
  }

  read(serial: number, into: Uint32Array): void {
    this.loads++;
    let value = this.#pending.get(serial) ?? this.#readAhead.get(serial);
    if (value === undefined) {
      this.syncReads++;
      value = this.#db.getManySync([keyOf(serial)])[0];
    } else {
      this.#readAhead.delete(serial);
    }
    if (value === undefined) throw new Error(`block ${serial} is not in the spill at ${this.#db.path}`);
    value.copy(Buffer.from(into.buffer, into.byteOffset, into.byteLength));
  }

  /**
   * Reads `serials` from RocksDB off this thread (the binding's getMany runs in libuv's pool), so that the next
   * read of each finds it in memory: a channel's snapshot reads all its parked blocks back at once, which done
   * synchronously stalled the engine for as long as the reads took (a channel of 182,000 messages: 300 ms).
   * Serials are never reused, so a block discarded meanwhile is only memory until pushed out.
   */
  async readAhead(serials: readonly number[]): Promise<void> {
    const wanted = serials
      .filter((serial) => !this.#pending.has(serial) && !this.#readAhead.has(serial))
      .slice(0, MAX_READ_AHEAD);
    if (wanted.length === 0) return;
    const values = await this.#db.getMany(wanted.map(keyOf));
    if (this.#readAhead.size + wanted.length > MAX_READ_AHEAD) this.#readAhead.clear();
    wanted.forEach((serial, i) => {
      const value = values[i];
      if (value !== undefined) this.#readAhead.set(serial, value);
    });
    this.readAheadBlocks += wanted.length;
  }

  discard(serial: number): void {
    this.#pending.delete(serial);
    this.#readAhead.delete(serial);
    this.#operations.push({ type: 'del', key: keyOf(serial) });
  }

  /**
   * Discards what `channel` holds in the spill once nothing references it any more: a channel leaving memory may
   * still be read by a lookup that took it before its own loads evicted it (queryReadStates.ts), and reads its
   * parked blocks then.
   */
  releaseWhenUnreachable(channel: ChannelState): void {
    const serials = channel.spilledSerials();
    if (serials.length > 0) this.#unreachable.register(channel, serials);
  }

  /**
   * Writes what was parked and discarded since the last flush. A failed write (a full disk) is kept and tried again
   * with the next: the parked entries stay in memory meanwhile, so nothing is lost, and the chunk that called it
   * goes on (the state's own writes fail on a full disk too, and stop the service cleanly).
   */
  flush(): void {
    if (this.#operations.length === 0) return;
    try {
      this.#db.writeSync(this.#operations);
    } catch (error) {
      this.lastFailure = error instanceof Error ? error : new Error(String(error));
      return;
    }
    this.lastFailure = undefined;
    this.#operations = [];
    this.#pending.clear();
  }

  /** What RocksDB holds in memory for the spill (RocksDatabase.memoryBytes). */
  memoryBytes(): number {
    return this.#db.memoryBytes();
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

function keyOf(serial: number): Buffer {
  const key = Buffer.allocUnsafe(SERIAL_BYTES);
  key.writeUIntBE(serial, 0, SERIAL_BYTES);
  return key;
}
