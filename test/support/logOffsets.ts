import { eventTopic, type ChatEvent } from '../../src/contract/events.ts';
import type { Includes } from '../../src/store/channelCodec.ts';
import type { ChunkSource } from '../../src/store/compactStore.ts';

/**
 * The offsets Kafka would give events, per partition and topic, counting from 0: a list of events of both topics
 * becomes runs of one topic each, as the projector's chunks are.
 */
export class LogOffsets {
  readonly #next = new Map<number, { messages: bigint; acks: bigint }>();

  /** Where `partition` stands: the next offset on each topic. */
  position(partition: number): Includes {
    return { ...(this.#next.get(partition) ?? { messages: 0n, acks: 0n }) };
  }

  /** Back to where `position` said a partition stood (a replay from there appends the same offsets again). */
  rewind(partition: number, position: Includes): void {
    this.#next.set(partition, { ...position });
  }

  /** `events` appended to `partition`'s topics, in runs of one topic, each with its place in the log. */
  append(partition: number, events: readonly ChatEvent[]): { events: ChatEvent[]; source: ChunkSource }[] {
    const next = { ...this.position(partition) };
    const runs = topicRuns(events).map((run) => {
      const topic = eventTopic[(run[0] as ChatEvent).type];
      const offsets = run.map(() => String(next[topic]++));
      return { events: run, source: { topic, offsets, next: next[topic] } };
    });
    this.#next.set(partition, next);
    return runs;
  }
}

/** `events` cut where the topic changes: the projector applies a chunk of one topic's batch at a time. */
export function topicRuns(events: readonly ChatEvent[]): ChatEvent[][] {
  const runs: ChatEvent[][] = [];
  for (const event of events) {
    const run = runs.at(-1);
    const first = run?.[0];
    if (run !== undefined && first !== undefined && eventTopic[first.type] === eventTopic[event.type]) {
      run.push(event);
    } else {
      runs.push([event]);
    }
  }
  return runs;
}
