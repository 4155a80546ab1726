/**
 * A process's resident memory by where the kernel mapped it (/proc/PID/smaps), to split an RSS that the
 * service's own metrics do not account for:
 * - files: mapped files (the node binary, shared libraries);
 * - malloc: the C allocator's heaps, the main one ([heap], grown by brk) and glibc's other arenas (anonymous
 *   regions at a 64 MiB boundary, the size glibc reserves one at): RocksDB's memtables and blocks, array buffers'
 *   backing stores and every other native allocation below glibc's mmap threshold live there;
 * - other anonymous: V8's heap pages, thread stacks, and allocations above the mmap threshold.
 * Linux only; elsewhere every figure is 0.
 */
import { readFile } from 'node:fs/promises';

export type MemoryMap = { filesMiB: number; mallocMiB: number; otherAnonymousMiB: number };

const ARENA_ALIGNMENT = 64n * 2n ** 20n;
const MAPPING = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/;

export async function memoryMapOf(pid: number): Promise<MemoryMap> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return { filesMiB: 0, mallocMiB: 0, otherAnonymousMiB: 0 };
  }
  const kib = { files: 0, malloc: 0, other: 0 };
  let kind: keyof typeof kib = 'other';
  for (const line of text.split('\n')) {
    const mapping = MAPPING.exec(line);
    if (mapping !== null) {
      const [, start = '0', path = ''] = mapping;
      if (path === '[heap]' || (path === '' && BigInt(`0x${start}`) % ARENA_ALIGNMENT === 0n))
        kind = 'malloc';
      else if (path === '' || path.startsWith('[')) kind = 'other';
      else kind = 'files';
    } else if (line.startsWith('Rss:')) {
      kib[kind] += Number(/(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return { filesMiB: kib.files / 1024, mallocMiB: kib.malloc / 1024, otherAnonymousMiB: kib.other / 1024 };
}
