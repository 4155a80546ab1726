/**
 * The whole read path against the reference model: events applied as the projector applies them (mirrored into
 * the hot tier), lookups as the HTTP thread makes them (the tier, then RocksDB, which fills the tier), pairs
 * with and without a read state, in channels with and without messages; then with lookups racing the writes.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';
import type { HotTierOptions } from '../../src/store/hotTier.ts';
import { openRocksDatabase, type RocksDatabase } from '../../src/store/rocksDatabase.ts';
import { chatHistory, interleave, SMALL_UNIVERSE, topicPicks } from '../support/chatHistory.ts';
import { createMemoryRocksDatabase } from '../support/memoryRocksDatabase.ts';
import { topicRuns } from '../support/logOffsets.ts';
import { createReadPath } from '../support/readPath.ts';
import { createReferenceModel } from '../support/referenceModel.ts';
import { temporaryRocksDir } from '../support/rocks.ts';

/** The history's ids, plus a user and a channel no event names. */
const USERS = [...SMALL_UNIVERSE.users, '4'];
const CHANNELS = [...SMALL_UNIVERSE.channels, '999'];

/** 400 bytes hold 2 read-state entries and 2 channels: everything is evicted all the time. */
const BUDGETS: readonly HotTierOptions[] = [
  { bytesBudget: 400, readStateShare: 0.6 },
  { bytesBudget: 2 ** 20 },
];

const lookupArbitrary = fc.record({
  user: fc.constantFrom(...USERS),
  channels: fc.array(fc.constantFrom(...CHANNELS), { minLength: 1, maxLength: 4 }),
});

const scenario = fc.record({
  history: chatHistory(SMALL_UNIVERSE, { maxMessages: 40, maxAcks: 30, everyone: true, membership: true }),
  picks: topicPicks(),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 5 }),
  budget: fc.constantFrom(...BUDGETS),
  lookups: fc.array(fc.array(lookupArbitrary, { maxLength: 4 }), { minLength: 1, maxLength: 12 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The projector's chunks: of the sizes given, each of one topic (a chunk is of one topic's batch). */
function chunksOf(events: readonly ChatEvent[], sizes: readonly number[]): ChatEvent[][] {
  const chunks: ChatEvent[][] = [];
  for (let at = 0, i = 0; at < events.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    chunks.push(...topicRuns(events.slice(at, at + size)));
    at += size;
  }
  return chunks;
}

type Tally = { lookups: number; heldNegative: number; heldPositive: number; evictions: number };

/** Applies the scenario chunk by chunk; after each, its lookups, each answer checked against the model. */
async function checkSequentially(db: RocksDatabase, run: Scenario, tally: Tally): Promise<void> {
  const path = createReadPath(db, { hotTier: run.budget });
  const reference = createReferenceModel();
  const chunks = chunksOf(interleave(run.history, run.picks), run.chunkSizes);
  for (const [i, chunk] of chunks.entries()) {
    await path.apply(chunk);
    for (const event of chunk) reference.apply(event);
    for (const { user, channels } of run.lookups[i % run.lookups.length] ?? []) {
      // What the tier holds must be exact on its own, negative entries included.
      for (const channel of channels) {
        const held = path.hot.readView(user, channel);
        if (held === undefined) continue;
        expect(held).toEqual(reference.readState(user, channel));
        if (held.has_read_state) tally.heldPositive++;
        else tally.heldNegative++;
      }
      const views = await path.reads.lookup(user, channels);
      expect(views).toEqual(channels.map((channel) => reference.readState(user, channel)));
      tally.lookups++;
    }
  }
  const { readStates, channels } = path.hot.stats();
  tally.evictions += readStates.evictions + channels.evictions;
}

describe('the read path (hot tier, then RocksDB) answers as the reference model', () => {
  it('with and without read states, over random histories and lookups', async () => {
    const tally: Tally = { lookups: 0, heldNegative: 0, heldPositive: 0, evictions: 0 };
    await fc.assert(
      fc.asyncProperty(scenario, (run) => checkSequentially(createMemoryRocksDatabase(), run, tally)),
      { numRuns: 200 },
    );
    // Not vacuous: pairs without a read state were answered by the tier, and the tiny budget evicted.
    expect(tally.heldNegative).toBeGreaterThan(200);
    expect(tally.heldPositive).toBeGreaterThan(200);
    expect(tally.evictions).toBeGreaterThan(100);
  }, 60_000);

  it('on a real RocksDB too', async () => {
    const dir = await temporaryRocksDir();
    const tally: Tally = { lookups: 0, heldNegative: 0, heldPositive: 0, evictions: 0 };
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (run) => {
          const db = await openRocksDatabase(`${dir.path}/${runs++}`);
          try {
            await checkSequentially(db, run, tally);
          } finally {
            await db.close();
          }
        }),
        { numRuns: 15 },
      );
    } finally {
      await dir.remove();
    }
    expect(tally.heldNegative).toBeGreaterThan(5);
  }, 60_000);
});

describe('the read path with lookups racing the writes', () => {
  it('gives each pair the state before or after the write under way, never going back to the older', async () => {
    let raced = 0;
    await fc.assert(
      fc.asyncProperty(scenario, fc.integer(), async (run, seed) => {
        const random = seededRandom(seed);
        const turns = async (most: number) => {
          for (let n = random() % (most + 1); n > 0; n--)
            await new Promise((resolve) => setImmediate(resolve));
        };
        // Every read and write of RocksDB takes a few event-loop turns, on each side of touching the data.
        const path = createReadPath(createMemoryRocksDatabase({ pause: () => random() % 3 }), {
          hotTier: run.budget,
        });
        const before = createReferenceModel();
        const after = createReferenceModel();
        let now = 0;
        for (const [i, chunk] of chunksOf(interleave(run.history, run.picks), run.chunkSizes).entries()) {
          for (const event of chunk) after.apply(event);
          // Per pair: when the first answer that only the state after this chunk gives was given.
          const newerGiven = new Map<string, number>();
          const lookups = run.lookups[i % run.lookups.length] ?? [];
          const client = async (mine: typeof lookups) => {
            for (const { user, channels } of [...mine, ...mine]) {
              await turns(3);
              const began = now++;
              const views = await path.reads.lookup(user, channels);
              const given = now++;
              views.forEach((view, k) => {
                const channel = channels[k] ?? '';
                const pair = `${user}/${channel}`;
                const [older, newer] = [before, after].map((model) => model.readState(user, channel));
                expect([older, newer]).toContainEqual(view);
                if (isDeepStrictEqual(view, older)) {
                  const at = newerGiven.get(pair);
                  if (at !== undefined && at < began) wentBack(pair, view, newer);
                } else if (!newerGiven.has(pair)) {
                  newerGiven.set(pair, given);
                }
              });
            }
          };
          await Promise.all([
            path.apply(chunk),
            client(lookups.filter((_, k) => k % 2 === 0)),
            client(lookups.filter((_, k) => k % 2 === 1)),
          ]);
          raced += newerGiven.size;
          for (const event of chunk) before.apply(event);
        }
      }),
      { numRuns: 300 },
    );
    // Not vacuous: many lookups were answered with a write's new state while the race was on.
    expect(raced).toBeGreaterThan(300);
  }, 60_000);
});

function wentBack(pair: string, older: ReadStateView, newer: ReadStateView | undefined): never {
  throw new Error(
    `${pair} was served ${JSON.stringify(older)} after ${JSON.stringify(newer)} had been served to a lookup ` +
      'that ended before this one began',
  );
}
