#!/usr/bin/env bash
# The service as users start it: `npm start`, `npm run dev` and the benchmarks all come through here. Arguments
# are node's own flags (the benchmarks pass --cpu-prof, --trace-gc).
#
# glibc's allocator, left to its defaults, kept what native code freed — RocksDB's memtables and blocks, the
# engine's typed arrays — in up to 16 arenas on this 2-core machine and raised its mmap threshold with every large
# free, so a 30-minute soak's RSS grew by 600+ MiB that nothing used (decision 0003, "malloc's arenas"). Two
# arenas and a fixed threshold hand large blocks back to the kernel when freed. An operator's own GLIBC_TUNABLES
# wins (set it empty for glibc's defaults).
set -euo pipefail
export GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072}"
exec node "$@" "$(dirname "${BASH_SOURCE[0]}")/../src/cli.ts" serve
