#!/usr/bin/env bash
# Starts the local development broker: Apache Kafka 3.9 in KRaft mode, one node (broker + controller) on
# 127.0.0.1, run from the official jars that Maven fetches. Safe to run again: a broker this script started that
# is still running is reused, never doubled. Needs Java 17 (and Maven once, for the jars); no Node, no Docker.
#
#   KAFKA_PORT             client port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   KAFKA_DATA_DIR         topic data, generated config, pid file, server.log (default <repo>/.local/kafka)
#   KAFKA_HEAP_OPTS        broker JVM heap (default -Xms512m -Xmx1g)
#
# Prints one line on stdout once the broker answers a metadata request; progress and errors go to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-9093}
data_dir=${KAFKA_DATA_DIR:-$repo/.local/kafka}
heap_opts=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}
libs_dir=$repo/.local/kafka-libs
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
start_timeout=90

say() { echo "kafka-up: $*" >&2; }
die() {
  echo "kafka-up: $*" >&2
  exit 1
}

for value in "$port" "$controller_port"; do
  if ! [[ $value =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
    die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must be port numbers, 1 to 65535 (got '$port' and '$controller_port')."
  fi
done
port=$((10#$port)) controller_port=$((10#$controller_port))
[ "$port" != "$controller_port" ] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both are $port)."
command -v "$java" >/dev/null || die "Java 17 or newer is needed: install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME."

mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)
config=$data_dir/server.properties
pid_file=$data_dir/kafka.pid
log_file=$data_dir/server.log
out_file=$data_dir/server.out

# One kafka-up or kafka-down at a time per data directory, so two parallel callers cannot start two brokers.
# flock is released when this script exits; macOS has no flock and goes without.
if command -v flock >/dev/null; then
  exec 9>"$data_dir/.lock"
  flock -n 9 || {
    say "waiting for another kafka-up or kafka-down on $data_dir"
    flock 9
  }
fi

# 1. The jars. Fetched again only when pom.xml changes (a version bump), into a clean directory so no stale
# jar of the old version stays on the classpath.
pom_sum=$(cksum <"$here/pom.xml")
if [ "$(cat "$libs_dir/.fetched" 2>/dev/null)" != "$pom_sum" ]; then
  command -v mvn >/dev/null || die "Maven is needed once to fetch the Kafka jars: install Maven 3.8+ (apt-get install maven)."
  say "fetching the Kafka jars from Maven Central into $libs_dir"
  rm -rf "$libs_dir"
  # Maven's output is kept for a failure only: even with -q, Debian's Maven prints stray colour codes.
  if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies "-Dkafka.libs.dir=$libs_dir" >"$data_dir/fetch.log" 2>&1; then
    cat "$data_dir/fetch.log" >&2
    die "Maven could not fetch the Kafka jars (output above); check that Maven Central is reachable."
  fi
  echo "$pom_sum" >"$libs_dir/.fetched"
fi
jars=("$libs_dir"/kafka_2.13-*.jar)
jar_version=${jars[0]##*/kafka_2.13-}
jar_version=${jar_version%.jar}

# A Kafka command-line tool from the same jars: small heap, quick start, only warnings, on stderr.
kafka_tool() {
  "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    "-Dlog4j.configuration=file:$here/log4j.properties" -Dlocal.kafka.root.logger=WARN,stderr \
    -cp "$libs_dir/*" "$@"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid from the pid file, if that process is alive and is the broker of this data directory (pids get reused).
running_pid() {
  local pid args
  pid=$(cat "$pid_file" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -ww -o args= -p "$pid" 2>/dev/null) && [[ $args == *"kafka.Kafka $config"* ]] && echo "$pid"
}

# Ready means a real round trip: a metadata request that lists this node (it appears once it is unfenced),
# then an ApiVersions request to it. The same check as docker-compose.yml's kafka-broker-api-versions.sh.
broker_ready() {
  port_open "$port" || return 1
  local out
  out=$(kafka_tool kafka.admin.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" 2>/dev/null) || true
  [[ $out == *"(id: 1 rack"* ]]
}

fail_with_log() {
  echo "kafka-up: $1" >&2
  if [ -s "$log_file" ]; then
    echo "--- last lines of $log_file" >&2
    tail -n 40 "$log_file" >&2
  fi
  if [ -s "$out_file" ]; then
    echo "--- last lines of $out_file (the JVM's own output)" >&2
    tail -n 20 "$out_file" >&2
  fi
  exit 1
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + start_timeout))
  until broker_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      fail_with_log "the broker exited during start-up."
    fi
    ((SECONDS < deadline)) ||
      fail_with_log "the broker (pid $pid) did not answer on 127.0.0.1:$port within ${start_timeout} s; stop it with deploy/local-kafka/kafka-down.sh."
    sleep 0.5
  done
}

# The version the broker itself logged ("Kafka version: 3.9.2"), from the log text given on stdin.
logged_version() { grep -o 'Kafka version: [^ ]*' | tail -n 1 | sed 's/^Kafka version: //'; }

# 2. Already running?
if pid=$(running_pid); then
  running_port=$(sed -n 's|^advertised\.listeners=PLAINTEXT://127\.0\.0\.1:||p' "$config")
  [ "$running_port" = "$port" ] ||
    die "the broker of $data_dir (pid $pid) is running on port $running_port, not $port; stop it first (deploy/local-kafka/kafka-down.sh) or use KAFKA_PORT=$running_port."
  wait_ready "$pid"
  version=$(logged_version <"$log_file" || true)
  echo "kafka ${version:-$jar_version} (KRaft) already running on 127.0.0.1:$port (pid $pid)"
  exit 0
fi
rm -f "$pid_file"
for p in "$port" "$controller_port"; do
  if port_open "$p"; then
    die "127.0.0.1:$p is in use by another process, not a broker started from $data_dir. Stop it (find it with: ss -ltnp | grep :$p) or choose other ports with KAFKA_PORT and KAFKA_CONTROLLER_PORT."
  fi
done

# The effective config: the checked-in defaults plus the values from the environment. A file rather than
# kafka.Kafka's --override because StorageTool, which formats the storage, reads only a config file.
{
  cat "$here/server.properties"
  echo
  echo "# --- written by kafka-up.sh from the environment"
  echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
  echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
  echo "controller.quorum.voters=1@127.0.0.1:$controller_port"
  echo "log.dirs=$data_dir/storage"
} >"$config"

# 3. Format the storage once, with a fresh cluster id; restarts reuse it.
if [ ! -f "$data_dir/storage/meta.properties" ]; then
  cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid)
  say "formatting $data_dir/storage (cluster id $cluster_id)"
  kafka_tool kafka.tools.StorageTool format --config "$config" --cluster-id "$cluster_id" --ignore-formatted >&2
fi

# 4. Start in the background. Flags as in Kafka's own kafka-run-class.sh. stdin, stdout and stderr are
# redirected and the lock's descriptor 9 is closed, so the broker holds nothing of its caller's (a caller that
# waits for our output to end, as Node's execFile does, would otherwise wait for the broker to exit).
log_size=0
[ ! -f "$log_file" ] || log_size=$(wc -c <"$log_file")
say "starting the broker on 127.0.0.1:$port (controller :$controller_port), log: $log_file"
# shellcheck disable=SC2086 # heap_opts holds several JVM flags
nohup "$java" $heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
  -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
  "-Dkafka.logs.dir=$data_dir" "-Dlog4j.configuration=file:$here/log4j.properties" \
  -cp "$libs_dir/*" kafka.Kafka "$config" </dev/null >"$out_file" 2>&1 9>&- &
pid=$!
echo "$pid" >"$pid_file"

# 5. Wait until it answers.
started=$SECONDS
wait_ready "$pid"

# 6. The version this broker logged at start-up (only the log written since the start above).
version=$(tail -c +"$((log_size + 1))" "$log_file" | logged_version || true)
if [ -z "$version" ]; then
  version=$jar_version
  say "the broker's log has no 'Kafka version' line; reporting the jar's version"
elif [ "$version" != "$jar_version" ]; then
  say "warning: the broker logged version $version but the jars are $jar_version"
fi
say "ready after $((SECONDS - started)) s (pid $pid)"
echo "kafka $version (KRaft) ready on 127.0.0.1:$port"
