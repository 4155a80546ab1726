import { createDemoStream } from '../src/ops/demoStream.ts';
import { CompactProjection } from '../src/projection/compact/compactProjection.ts';
import { createMemoryStore } from '../src/projection/memoryStore.ts';
import { applyEvent } from '../src/projection/applyEvent.ts';

const events = Number(process.argv[2] ?? 1_000_000);
const which = process.argv[3] ?? 'compact';
const stream = createDemoStream({ seed: 1, channels: events / 100, users: events / 10 });
const all = Array.from({ length: events }, () => stream.next());
globalThis.gc?.();
const before = process.memoryUsage();
const projection = new CompactProjection();
const store = createMemoryStore({ freeze: false });
const t0 = performance.now();
for (const event of all) {
  if (which === 'compact') projection.apply(event);
  else applyEvent(store, event);
}
const ms = performance.now() - t0;
globalThis.gc?.();
const after = process.memoryUsage();
let members = 0, ids = 0, readStates = 0;
if (which === 'compact') {
  for (const channelId of new Set(all.map((e) => e.channel_id))) {
    const c = projection.channel(channelId);
    if (!c) continue;
    members += c.memberCount;
    ids += c.messages.size;
    for (let m = 0; m < c.memberCount; m++) if (c.hasReadState(m)) readStates++;
  }
}
const heap = after.heapUsed - before.heapUsed;
const ab = after.arrayBuffers - before.arrayBuffers;
console.log(JSON.stringify({ which, events, ms: Math.round(ms), usPerEvent: (ms * 1000 / events).toFixed(2), heapMiB: (heap / 2 ** 20).toFixed(1), arrayBuffersMiB: (ab / 2 ** 20).toFixed(1), members, ids, readStates, bytesPerId: ((heap + ab) / (members + ids)).toFixed(1) }));
