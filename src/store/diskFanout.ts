/**
 * Rank-index node size on disk. Node layout depends on it, so it must not change for the life of a data
 * directory (a different value needs a rebuild from Kafka). 32 keeps a node record under ~1 KiB.
 */
export const DISK_FANOUT = 32;
