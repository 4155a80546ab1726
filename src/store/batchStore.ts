import type { RankIndexHeader, RankNode } from '../projection/rankIndex.ts';
import type { ProjectionStore } from '../projection/store.ts';
import type {
  ChannelRecord,
  MemberIndexId,
  MessageRecord,
  RankIndexId,
  ReadStateRecord,
} from '../projection/records.ts';
import { channelKey, indexHeaderKey, indexNodeKey, messageKey, readStateKey } from './keys.ts';
import { decodeRecord, encodeRecord } from './recordCodec.ts';
import { ABSENT, type RecordCache } from './recordCache.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';

/** Thrown by a read of a record not loaded yet: the event is abandoned, the record loaded, the event re-run. */
export class RecordNotLoaded extends Error {
  readonly key: Buffer;
  constructor(key: Buffer) {
    super('record not loaded');
    this.key = key;
  }
}

const DELETED = Symbol('deleted');

/**
 * A write the hot tier mirrors: the read-state and channel records (neither is ever deleted), and the size of
 * OWN(c, u) (live messages u wrote in c), which the answer for a pair without a read state depends on.
 */
export type HotWrite =
  | { kind: 'channel'; channelId: string; record: ChannelRecord }
  | { kind: 'readState'; userId: string; channelId: string; record: ReadStateRecord }
  | { kind: 'ownCount'; userId: string; channelId: string; count: number };

function ownCount(index: MemberIndexId, count: number): HotWrite | undefined {
  return index.kind === 'own'
    ? { kind: 'ownCount', userId: index.user_id, channelId: index.channel_id, count }
    : undefined;
}

type Slot = { key: Buffer; value: unknown; hot?: HotWrite };

/**
 * The projection's view of one partition while one Kafka batch is applied. It lives for one batch only, so it
 * holds nothing that grows with the history: what it loaded from RocksDB, and what this batch wrote.
 *
 * The pure core reads synchronously; RocksDB reads are asynchronous. So a read of a record not in memory
 * throws RecordNotLoaded; `apply` then drops the event's writes, and the caller loads the record and applies
 * the event again. Events are deterministic functions of the records they read, so the re-run is exact.
 */
export class BatchStore implements ProjectionStore {
  readonly fanout: number;
  /** Records loaded one at a time because a step asked for them (prefetching missed them). */
  recordLoads = 0;
  private readonly partition: number;
  /** Records as read from disk, decoded; ABSENT where the key has no record. */
  private readonly loaded = new Map<string, unknown>();
  /** Writes of the events applied so far in this batch. */
  private readonly written = new Map<string, Slot>();
  /** Writes of the event being applied; merged into `written` only when it completes. */
  private pending = new Map<string, Slot>();

  /** Only the projector that writes this partition may pass a `cache` (see RecordCache). */
  private readonly cache: RecordCache | undefined;

  constructor(partition: number, fanout: number, cache?: RecordCache) {
    this.partition = partition;
    this.fanout = fanout;
    this.cache = cache;
  }

  /** Keys that must be loaded before `apply` can read them (those in the cache are taken from it). */
  missing(keys: readonly Buffer[]): Buffer[] {
    return keys.filter((key) => {
      const id = key.toString('latin1');
      return !this.loaded.has(id) && !this.written.has(id) && !this.fromCache(id);
    });
  }

  /** Records what RocksDB holds for `keys` (undefined: no record). */
  load(keys: readonly Buffer[], values: readonly (Buffer | undefined)[]): void {
    keys.forEach((key, i) => {
      const value = values[i];
      const id = key.toString('latin1');
      const record = value === undefined ? ABSENT : decodeRecord(value);
      this.loaded.set(id, record);
      this.cache?.set(id, record);
    });
  }

  /** Call once the batch's operations are durably written: the cache learns what they wrote. */
  commit(): void {
    if (this.cache === undefined) return;
    for (const [id, { value }] of this.written) this.cache.set(id, value === DELETED ? ABSENT : value);
  }

  private fromCache(id: string): boolean {
    const cached = this.cache?.get(id);
    if (cached === undefined) return false;
    this.loaded.set(id, cached);
    return true;
  }

  /**
   * Runs `step` (an event applied through the pure core, or a query). When it reads a record not loaded yet, its
   * writes are dropped and the key it needs is returned instead; otherwise its writes are kept.
   */
  attempt<T>(
    step: (store: ProjectionStore) => T,
  ): { done: true; value: T } | { done: false; missing: Buffer } {
    this.pending = new Map();
    let value: T;
    try {
      value = step(this);
    } catch (error) {
      this.pending = new Map();
      if (error instanceof RecordNotLoaded) return { done: false, missing: error.key };
      throw error;
    }
    for (const [id, slot] of this.pending) this.written.set(id, slot);
    this.pending = new Map();
    return { done: true, value };
  }

  /** Runs `step` to completion, loading from `db` each record it asks for. */
  async run<T>(db: Pick<RocksDatabase, 'get'>, step: (store: ProjectionStore) => T): Promise<T> {
    for (;;) {
      const attempt = this.attempt(step);
      if (attempt.done) return attempt.value;
      if (this.missing([attempt.missing]).length === 0) continue;
      this.load([attempt.missing], [await db.get(attempt.missing)]);
      this.recordLoads++;
    }
  }

  /** The batch's writes as RocksDB operations. */
  operations(): WriteOperation[] {
    return [...this.written.values()].map(({ key, value }) =>
      value === DELETED ? { type: 'del', key } : { type: 'put', key, value: encodeRecord(value) },
    );
  }

  /** The batch's read-state and channel writes, for the hot tier, grouped by channel (channel record first). */
  hotWrites(): HotWrite[][] {
    const byChannel = new Map<string, HotWrite[]>();
    for (const { hot } of this.written.values()) {
      if (hot === undefined) continue;
      const group = byChannel.get(hot.channelId) ?? [];
      if (hot.kind === 'channel') group.unshift(hot);
      else group.push(hot);
      byChannel.set(hot.channelId, group);
    }
    return [...byChannel.values()];
  }

  private read(key: Buffer): unknown {
    const id = key.toString('latin1');
    const slot = this.pending.get(id) ?? this.written.get(id);
    if (slot !== undefined) return slot.value === DELETED ? undefined : slot.value;
    if (!this.loaded.has(id)) throw new RecordNotLoaded(key);
    const value = this.loaded.get(id);
    return value === ABSENT ? undefined : value;
  }

  private write(key: Buffer, value: unknown, hot?: HotWrite): void {
    this.pending.set(key.toString('latin1'), hot === undefined ? { key, value } : { key, value, hot });
  }

  getChannel(channelId: string): ChannelRecord | undefined {
    return this.read(channelKey(this.partition, channelId)) as ChannelRecord | undefined;
  }
  putChannel(channelId: string, record: ChannelRecord): void {
    this.write(channelKey(this.partition, channelId), record, { kind: 'channel', channelId, record });
  }
  getMessage(channelId: string, messageId: string): MessageRecord | undefined {
    return this.read(messageKey(this.partition, channelId, messageId)) as MessageRecord | undefined;
  }
  putMessage(channelId: string, messageId: string, record: MessageRecord): void {
    this.write(messageKey(this.partition, channelId, messageId), record);
  }
  getReadState(userId: string, channelId: string): ReadStateRecord | undefined {
    return this.read(readStateKey(this.partition, userId, channelId)) as ReadStateRecord | undefined;
  }
  putReadState(userId: string, channelId: string, record: ReadStateRecord): void {
    this.write(readStateKey(this.partition, userId, channelId), record, {
      kind: 'readState',
      userId,
      channelId,
      record,
    });
  }
  getIndexHeader(index: MemberIndexId): RankIndexHeader | undefined {
    return this.read(indexHeaderKey(this.partition, index)) as RankIndexHeader | undefined;
  }
  putIndexHeader(index: MemberIndexId, header: RankIndexHeader): void {
    this.write(indexHeaderKey(this.partition, index), header, ownCount(index, header.size));
  }
  deleteIndexHeader(index: MemberIndexId): void {
    this.write(indexHeaderKey(this.partition, index), DELETED, ownCount(index, 0));
  }
  getIndexNode(index: RankIndexId, node: number): RankNode | undefined {
    return this.read(indexNodeKey(this.partition, index, node)) as RankNode | undefined;
  }
  putIndexNode(index: RankIndexId, node: number, value: RankNode): void {
    this.write(indexNodeKey(this.partition, index, node), value);
  }
  deleteIndexNode(index: RankIndexId, node: number): void {
    this.write(indexNodeKey(this.partition, index, node), DELETED);
  }
}
