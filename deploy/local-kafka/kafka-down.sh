#!/usr/bin/env bash
# Stops the local broker that kafka-up.sh started: SIGTERM for a clean shutdown, SIGKILL only if it has not
# exited after 60 s. Exits 0 when nothing was running.
#
#   kafka-down.sh            stop; topics and data stay for the next kafka-up
#   kafka-down.sh --purge    stop and delete the data directory (the fetched jars stay)
#
# KAFKA_DATA_DIR selects the broker, as for kafka-up.sh (default <repo>/.local/kafka).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
data_dir=${KAFKA_DATA_DIR:-$repo/.local/kafka}
stop_timeout=60

say() { echo "kafka-down: $*" >&2; }
die() {
  echo "kafka-down: $*" >&2
  exit 1
}

purge=false
case "${1:-}" in
  --purge) purge=true ;;
  '') ;;
  *) die "unknown argument '$1'; usage: kafka-down.sh [--purge]" ;;
esac

if [ ! -d "$data_dir" ]; then
  say "nothing to stop: $data_dir does not exist"
  exit 0
fi
data_dir=$(cd "$data_dir" && pwd)
config=$data_dir/server.properties
pid_file=$data_dir/kafka.pid

# Not while a kafka-up on the same directory is starting a broker (see kafka-up.sh).
if command -v flock >/dev/null; then
  exec 9>"$data_dir/.lock"
  flock 9
fi

pid=$(cat "$pid_file" 2>/dev/null || true)
args=
[[ $pid =~ ^[0-9]+$ ]] && args=$(ps -ww -o args= -p "$pid" 2>/dev/null || true)
if [[ $args == *"kafka.Kafka $config"* ]]; then
  say "stopping the broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < stop_timeout)); do
    sleep 1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "warning: the broker did not stop within ${stop_timeout} s; killing it (SIGKILL). Kafka recovers its logs at the next start."
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 1; done
  else
    say "stopped after ${waited} s"
  fi
elif [ -n "$pid" ]; then
  say "nothing to stop: pid $pid from $pid_file is not running this broker any more"
else
  say "nothing to stop: no broker started from $data_dir"
fi
rm -f "$pid_file"

if $purge; then
  # Only a directory kafka-up.sh made: a mistyped KAFKA_DATA_DIR must not delete someone's files.
  if [ -f "$config" ] && grep -q '^# --- written by kafka-up.sh' "$config"; then
    rm -rf "$data_dir"
    say "deleted $data_dir"
  else
    die "not deleting $data_dir: it has no server.properties written by kafka-up.sh."
  fi
fi
