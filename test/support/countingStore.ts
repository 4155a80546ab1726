import type { ProjectionStore } from '../../src/projection/store.ts';

export type AccessCounts = { reads: number; writes: number };

/** Counts record reads and writes (deletes are writes) that pass through to `inner`: the cost model of a store. */
export function createCountingStore(inner: ProjectionStore): {
  store: ProjectionStore;
  counts: () => AccessCounts;
  reset: () => void;
} {
  let reads = 0;
  let writes = 0;
  const read =
    <A extends unknown[], R>(f: (...args: A) => R) =>
    (...args: A): R => {
      reads++;
      return f(...args);
    };
  const write =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A): void => {
      writes++;
      f(...args);
    };
  const store: ProjectionStore = {
    fanout: inner.fanout,
    getChannel: read(inner.getChannel.bind(inner)),
    putChannel: write(inner.putChannel.bind(inner)),
    getMessage: read(inner.getMessage.bind(inner)),
    putMessage: write(inner.putMessage.bind(inner)),
    getReadState: read(inner.getReadState.bind(inner)),
    putReadState: write(inner.putReadState.bind(inner)),
    getIndexHeader: read(inner.getIndexHeader.bind(inner)),
    putIndexHeader: write(inner.putIndexHeader.bind(inner)),
    deleteIndexHeader: write(inner.deleteIndexHeader.bind(inner)),
    getIndexNode: read(inner.getIndexNode.bind(inner)),
    putIndexNode: write(inner.putIndexNode.bind(inner)),
    deleteIndexNode: write(inner.deleteIndexNode.bind(inner)),
  };
  return {
    store,
    counts: () => ({ reads, writes }),
    reset: () => {
      reads = 0;
      writes = 0;
    },
  };
}
