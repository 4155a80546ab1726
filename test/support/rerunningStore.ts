import type { ChatEvent } from '../../src/contract/events.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import type { ProjectionStore } from '../../src/projection/store.ts';

/** Thrown by a read of a record that is not loaded yet. */
class NotLoaded extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`record ${key} is not loaded`);
    this.key = key;
  }
}

type Slot = { value: unknown } | 'deleted';

/**
 * Runs events the way a disk-backed store with a cache may have to: the first read of any record aborts the
 * event; the record is "loaded" and the event runs again from the start with its earlier writes thrown away.
 * Writes collect in an overlay that later reads of the same event see, and reach `inner` only when the event
 * completes. A projection that kept state outside the store, or was not a function of it, would come out
 * different from one run on `inner` directly.
 */
export function createRerunningStore(inner: ProjectionStore): {
  run: (event: ChatEvent) => void;
  aborts: () => number;
} {
  const loaded = new Set<string>();
  const overlay = new Map<string, Slot>();
  const flush: (() => void)[] = [];
  let aborts = 0;

  function read<T>(key: string, get: () => T | undefined): T | undefined {
    const slot = overlay.get(key);
    if (slot !== undefined) return slot === 'deleted' ? undefined : (slot.value as T);
    if (!loaded.has(key)) throw new NotLoaded(key);
    return get();
  }
  function put(key: string, value: unknown, apply: () => void): void {
    overlay.set(key, { value });
    flush.push(apply);
  }
  function remove(key: string, apply: () => void): void {
    overlay.set(key, 'deleted');
    flush.push(apply);
  }

  const store: ProjectionStore = {
    fanout: inner.fanout,
    getChannel: (c) => read(`c/${c}`, () => inner.getChannel(c)),
    putChannel: (c, r) => {
      put(`c/${c}`, r, () => {
        inner.putChannel(c, r);
      });
    },
    getMessage: (c, m) => read(`m/${c}/${m}`, () => inner.getMessage(c, m)),
    putMessage: (c, m, r) => {
      put(`m/${c}/${m}`, r, () => {
        inner.putMessage(c, m, r);
      });
    },
    getReadState: (u, c) => read(`r/${u}/${c}`, () => inner.getReadState(u, c)),
    putReadState: (u, c, r) => {
      put(`r/${u}/${c}`, r, () => {
        inner.putReadState(u, c, r);
      });
    },
    getIndexHeader: (i) => read(`h/${JSON.stringify(i)}`, () => inner.getIndexHeader(i)),
    putIndexHeader: (i, h) => {
      put(`h/${JSON.stringify(i)}`, h, () => {
        inner.putIndexHeader(i, h);
      });
    },
    deleteIndexHeader: (i) => {
      remove(`h/${JSON.stringify(i)}`, () => {
        inner.deleteIndexHeader(i);
      });
    },
    getIndexNode: (i, n) => read(`n/${JSON.stringify(i)}/${n}`, () => inner.getIndexNode(i, n)),
    putIndexNode: (i, n, v) => {
      put(`n/${JSON.stringify(i)}/${n}`, v, () => {
        inner.putIndexNode(i, n, v);
      });
    },
    deleteIndexNode: (i, n) => {
      remove(`n/${JSON.stringify(i)}/${n}`, () => {
        inner.deleteIndexNode(i, n);
      });
    },
  };

  return {
    run(event) {
      for (;;) {
        overlay.clear();
        flush.length = 0;
        try {
          applyEvent(store, event);
        } catch (error) {
          if (!(error instanceof NotLoaded)) throw error;
          loaded.add(error.key);
          aborts++;
          continue;
        }
        for (const apply of flush) apply();
        return;
      }
    },
    aborts: () => aborts,
  };
}
