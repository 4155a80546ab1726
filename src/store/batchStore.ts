import type { RankIndexHeader, RankNode } from '../projection/rankIndex.ts';
import type { ProjectionStore } from '../projection/store.ts';
import type {
  ChannelRecord,
  MemberIndexId,
  MessageRecord,
  RankIndexId,
  ReadStateRecord,
} from '../projection/records.ts';
import {
  channelRecordId,
  indexHeaderRecordId,
  indexNodeRecordId,
  keyOfRecordId,
  messageRecordId,
  readStateRecordId,
  recordIdOfKey,
} from './recordIds.ts';
import { decodeRecord, encodeRecord } from './recordCodec.ts';
import type { HotWrite } from './hotTierMirror.ts';
import { ABSENT, type ResidentState } from './residentState.ts';
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

function ownCount(index: MemberIndexId, count: number): HotWrite | undefined {
  return index.kind === 'own'
    ? { kind: 'ownCount', userId: index.user_id, channelId: index.channel_id, count }
    : undefined;
}

type Slot = { channel: string; value: unknown; hot: HotWrite | undefined };

/** A record to look up: its id (recordIds.ts) and its channel. */
export type RecordRef = { readonly id: string; readonly channel: string };

/** Where a BatchStore finds what it has not loaded itself. */
export type RecordSources = {
  /** The projector's resident state, for partitions it writes (see ResidentState). */
  resident?: ResidentState;
  /**
   * Reads a key from RocksDB on the spot. Without it, a read of a record not loaded throws RecordNotLoaded and
   * the caller loads it and runs the step again.
   */
  readSync?: (key: Buffer) => Buffer | undefined;
};

/**
 * The projection's view of one partition while one chunk of a Kafka batch is applied. It lives for one chunk
 * only: what it loaded from RocksDB, and what this chunk wrote. Records are named by the string ids of
 * recordIds.ts; RocksDB keys are built only for reads from disk and for the final write.
 *
 * The pure core reads synchronously. A read of a record that is neither written here, loaded, nor known to the
 * resident state is read from RocksDB at once when `readSync` is given; otherwise it throws RecordNotLoaded,
 * `attempt` drops the step's writes, and the caller loads the record and runs the step again. Steps are
 * deterministic functions of the records they read, so the re-run is exact.
 */
export class BatchStore implements ProjectionStore {
  readonly fanout: number;
  /** Records read from RocksDB one at a time because a step asked for them (prefetching missed them). */
  recordLoads = 0;
  private readonly partition: number;
  private readonly resident: ResidentState | undefined;
  private readonly readSync: ((key: Buffer) => Buffer | undefined) | undefined;
  /** Records as read from disk, decoded; ABSENT where the key has no record. */
  private readonly loaded = new Map<string, unknown>();
  /** Writes of the steps applied so far. */
  private readonly written = new Map<string, Slot>();
  /** Writes of the step being applied; merged into `written` only when it completes. */
  private readonly pending = new Map<string, Slot>();

  /** Only the projector that writes this partition may pass `sources.resident` (see ResidentState). */
  constructor(partition: number, fanout: number, sources: RecordSources = {}) {
    this.partition = partition;
    this.fanout = fanout;
    this.resident = sources.resident;
    this.readSync = sources.readSync;
  }

  /** The records of `refs` that only RocksDB can give, as keys to read (then pass them to `load`). */
  missingRefs(refs: Iterable<RecordRef>): Buffer[] {
    const keys: Buffer[] = [];
    for (const { id, channel } of refs) {
      if (this.loaded.has(id) || this.written.has(id)) continue;
      if (this.resident?.get(this.partition, channel, id) !== undefined) continue;
      keys.push(keyOfRecordId(this.partition, id));
    }
    return keys;
  }

  /** Keys that must be loaded before `attempt` can read them. */
  missing(keys: readonly Buffer[]): Buffer[] {
    return keys.filter((key) => {
      const { id, channel } = recordIdOfKey(key);
      return this.missingRefs([{ id, channel }]).length > 0;
    });
  }

  /** Records what RocksDB holds for `keys` (undefined: no record). */
  load(keys: readonly Buffer[], values: readonly (Buffer | undefined)[]): void {
    keys.forEach((key, i) => {
      const value = values[i];
      const { id, channel } = recordIdOfKey(key);
      this.learn(id, channel, value);
    });
  }

  private learn(id: string, channel: string, bytes: Buffer | undefined): unknown {
    const record = bytes === undefined ? ABSENT : decodeRecord(bytes);
    this.loaded.set(id, record);
    this.resident?.set(this.partition, channel, id, record);
    return record;
  }

  /** Call once the chunk's operations are durably written: the resident state learns what they wrote. */
  commit(): void {
    const resident = this.resident;
    if (resident === undefined) return;
    for (const [id, { channel, value }] of this.written) {
      resident.set(this.partition, channel, id, value === DELETED ? ABSENT : value);
    }
    resident.evictToBudget();
  }

  /**
   * Runs `step` (an event applied through the pure core, or a query). When it reads a record not loaded yet, its
   * writes are dropped and the key it needs is returned instead; otherwise its writes are kept.
   */
  attempt<T>(
    step: (store: ProjectionStore) => T,
  ): { done: true; value: T } | { done: false; missing: Buffer } {
    // One map, cleared, not a new one per step: a chunk runs a step per event.
    this.pending.clear();
    let value: T;
    try {
      value = step(this);
    } catch (error) {
      this.pending.clear();
      if (error instanceof RecordNotLoaded) return { done: false, missing: error.key };
      throw error;
    }
    for (const [id, slot] of this.pending) this.written.set(id, slot);
    this.pending.clear();
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

  /** The chunk's writes as RocksDB operations. */
  operations(): WriteOperation[] {
    const operations: WriteOperation[] = [];
    for (const [id, { value }] of this.written) {
      const key = keyOfRecordId(this.partition, id);
      operations.push(
        value === DELETED ? { type: 'del', key } : { type: 'put', key, value: encodeRecord(value) },
      );
    }
    return operations;
  }

  /** The chunk's read-state and channel writes, for the hot tier, grouped by channel (channel record first). */
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

  private read(id: string, channel: string): unknown {
    const slot = this.pending.get(id) ?? this.written.get(id);
    if (slot !== undefined) return slot.value === DELETED ? undefined : slot.value;
    let value = this.loaded.get(id) ?? this.resident?.get(this.partition, channel, id);
    if (value === undefined) {
      const key = keyOfRecordId(this.partition, id);
      if (this.readSync === undefined) throw new RecordNotLoaded(key);
      value = this.learn(id, channel, this.readSync(key));
      this.recordLoads++;
    }
    return value === ABSENT ? undefined : value;
  }

  private write(id: string, channel: string, value: unknown, hot?: HotWrite): void {
    this.pending.set(id, { channel, value, hot });
  }

  getChannel(channelId: string): ChannelRecord | undefined {
    return this.read(channelRecordId(channelId), channelId) as ChannelRecord | undefined;
  }
  putChannel(channelId: string, record: ChannelRecord): void {
    this.write(channelRecordId(channelId), channelId, record, { kind: 'channel', channelId, record });
  }
  getMessage(channelId: string, messageId: string): MessageRecord | undefined {
    return this.read(messageRecordId(channelId, messageId), channelId) as MessageRecord | undefined;
  }
  putMessage(channelId: string, messageId: string, record: MessageRecord): void {
    this.write(messageRecordId(channelId, messageId), channelId, record);
  }
  getReadState(userId: string, channelId: string): ReadStateRecord | undefined {
    return this.read(readStateRecordId(userId, channelId), channelId) as ReadStateRecord | undefined;
  }
  putReadState(userId: string, channelId: string, record: ReadStateRecord): void {
    this.write(readStateRecordId(userId, channelId), channelId, record, {
      kind: 'readState',
      userId,
      channelId,
      record,
    });
  }
  getIndexHeader(index: MemberIndexId): RankIndexHeader | undefined {
    return this.read(indexHeaderRecordId(index), index.channel_id) as RankIndexHeader | undefined;
  }
  putIndexHeader(index: MemberIndexId, header: RankIndexHeader): void {
    this.write(indexHeaderRecordId(index), index.channel_id, header, ownCount(index, header.size));
  }
  deleteIndexHeader(index: MemberIndexId): void {
    this.write(indexHeaderRecordId(index), index.channel_id, DELETED, ownCount(index, 0));
  }
  getIndexNode(index: RankIndexId, node: number): RankNode | undefined {
    return this.read(indexNodeRecordId(index, node), index.channel_id) as RankNode | undefined;
  }
  putIndexNode(index: RankIndexId, node: number, value: RankNode): void {
    this.write(indexNodeRecordId(index, node), index.channel_id, value);
  }
  deleteIndexNode(index: RankIndexId, node: number): void {
    this.write(indexNodeRecordId(index, node), index.channel_id, DELETED);
  }
}
