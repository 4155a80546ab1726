#!/usr/bin/env bash
# The service as users start it: `npm start`, `npm run dev` and the benchmarks all come through here. Arguments
# are node's own flags (the benchmarks pass --cpu-prof, --trace-gc).
#
# glibc's allocator, left to its defaults, kept what native code freed — RocksDB's memtables and blocks, the
# engine's typed arrays — in up to 8 arenas a core and raised its mmap threshold with every large free, so in a
# soak it held 400-650 MiB above what was in use (decision 0003, "malloc's arenas"). Two arenas and a fixed
# threshold hand large blocks back to the kernel when freed: 13% less at 15 minutes. An operator's own
# GLIBC_TUNABLES wins (set it empty for glibc's defaults). Arguments go to node, not to `serve`.
set -euo pipefail
export GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072}"
exec node "$@" "$(dirname "${BASH_SOURCE[0]}")/../src/cli.ts" serve
