import { expect } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { channelHeadOf, type ChannelHead } from '../../src/projection/channelHeadOf.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf, type ReadStateView } from '../../src/projection/readStateOf.ts';
import { createReferenceModel } from './referenceModel.ts';

export type ExpectedReadState = { user: Snowflake; channel: Snowflake } & Partial<
  Omit<ReadStateView, 'user_id' | 'channel_id'>
>;
export type ExpectedHead = { channel: Snowflake } & Partial<Omit<ChannelHead, 'channel_id'>>;
export type Expectations = { readStates?: readonly ExpectedReadState[]; heads?: readonly ExpectedHead[] };

/**
 * Given / when / then for the projection, after emmett's projection specs. `then` runs the scenario several
 * ways and expects the same answer from each: `when` applied once and `numberOfTimes` times (2 unless told),
 * and the whole history applied twice. Every way runs on the projection (a memory store with a small fanout,
 * so indexes split) and on the reference model; each stated field must match, and the two must agree on every
 * field of every pair named.
 */
export function projectionSpec(options: { fanout?: number } = {}) {
  const fanout = options.fanout ?? 4;
  return {
    given: (given: readonly ChatEvent[]) => ({
      when: (when: readonly ChatEvent[], whenOptions: { numberOfTimes?: number } = {}) => ({
        then: (expected: Expectations): void => {
          const times = whenOptions.numberOfTimes ?? 2;
          const runs: { name: string; events: ChatEvent[] }[] = [
            { name: 'when applied once', events: [...given, ...when] },
            { name: `when applied ${times} times`, events: [...given, ...repeat(when, times)] },
            { name: 'whole history applied twice', events: repeat([...given, ...when], 2) },
          ];
          for (const run of runs) check(run.name, run.events, expected, fanout);
        },
      }),
    }),
  };
}

function check(run: string, events: readonly ChatEvent[], expected: Expectations, fanout: number): void {
  const store = createMemoryStore({ fanout });
  const reference = createReferenceModel();
  for (const event of events) {
    applyEvent(store, event);
    reference.apply(event);
  }
  for (const { user, channel, ...fields } of expected.readStates ?? []) {
    const actual = readStateOf(store, user, channel);
    const label = `${run}: read state of user ${user} in channel ${channel}`;
    expect(actual, label).toMatchObject(fields);
    expect(reference.readState(user, channel), `${label} (reference model)`).toMatchObject(fields);
    expect(actual, `${label} (projection vs reference model)`).toEqual(reference.readState(user, channel));
    expect(store.channelsWithReadState(user), `${run}: channels with a read state of ${user}`).toEqual(
      reference.readStatesOf(user).map((view) => view.channel_id),
    );
  }
  for (const { channel, ...fields } of expected.heads ?? []) {
    const label = `${run}: head of channel ${channel}`;
    expect(channelHeadOf(store, channel), label).toMatchObject(fields);
    expect(channelHeadOf(store, channel), `${label} (projection vs reference model)`).toEqual(
      reference.channelHead(channel),
    );
  }
}

function repeat<T>(items: readonly T[], times: number): T[] {
  return Array.from({ length: times }, () => items).flat();
}
