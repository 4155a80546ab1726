#!/usr/bin/env bash
# The README's quick start as a newcomer runs it: a fresh clone, whatever Node is first on the PATH (the machine's
# own, older than 24, when it has one), `npm run dev`, then `npx readstates publish-demo` and one curl that must
# return read states. Fails when /readyz is not 200 within two minutes of `npm run dev` (a warm Maven cache
# assumed: the broker's jars), or when the start prints a warning. Run by .ci/run before its own broker starts:
# the clone's broker takes the default ports, as a newcomer's would.
set -euo pipefail
# Background jobs in process groups of their own: a stop reaches npm, the script under it and the service.
set -m
source_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work=$(mktemp -d)
clone="$work/readstates"
port=${QUICKSTART_HTTP_PORT:-8080}
dev_pid=""

stop_dev() {
  kill -TERM -- "-$dev_pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 -- "-$dev_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$dev_pid" 2>/dev/null || true
}

cleanup() {
  if [ -n "$dev_pid" ]; then stop_dev; fi
  if [ -d "$clone" ]; then (cd "$clone" && bash deploy/local-kafka/kafka-down.sh >/dev/null 2>&1) || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "quickstart: FAILED: $*" >&2
  echo "--- npm run dev printed:" >&2
  tail -n 40 "$work/dev.log" >&2 || true
  exit 1
}

# An older Node first on the PATH, if the machine has one (the newcomer's case this checks).
for candidate in /usr/bin/node /usr/local/bin/node; do
  if [ -x "$candidate" ] && [ "$("$candidate" -p 'process.versions.node.split(".")[0]')" -lt 24 ]; then
    export PATH="$(dirname "$candidate"):$PATH"
    break
  fi
done
echo "quickstart: Node $(node --version) and npm $(npm --version) first on the PATH"

if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  echo "quickstart: something already answers on :$port; stop it first" >&2
  exit 1
fi
git clone -q "$source_repo" "$clone"
cd "$clone"
started=$SECONDS
npm run dev >"$work/dev.log" 2>&1 &
dev_pid=$!

ready=""
while [ $((SECONDS - started)) -lt 120 ]; do
  kill -0 "$dev_pid" 2>/dev/null || fail "npm run dev exited"
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    ready=$((SECONDS - started))
    break
  fi
  sleep 1
done
[ -n "$ready" ] || fail "/readyz was not 200 within 120 s of npm run dev"
echo "quickstart: /readyz 200 ${ready} s after npm run dev (dependencies installed, broker started, service up)"

# The only warnings a clean start may print are the ones it means: AUTH_DISABLED's, which the quick start asks for.
if grep -E 'Warning|DeprecationWarning|npm warn|npm WARN' "$work/dev.log" | grep -v 'EBADENGINE\|engine\|install-scripts' >/dev/null; then
  fail "the start printed a warning: $(grep -E 'Warning|npm warn|npm WARN' "$work/dev.log" | head -3)"
fi

npx readstates publish-demo --count 2000 >"$work/publish.log" 2>&1 || fail "publish-demo: $(tail -3 "$work/publish.log")"
# What a client asks: one user's read states in a few channels (the demo's first user and channels).
query="http://127.0.0.1:$port/v1/users/1300000000002000000/read-states?channel_ids=1300000000001000000,1300000000001000001"
answer=""
for _ in $(seq 1 30); do
  answer=$(curl -fsS "$query" || true)
  case "$answer" in *'"last_message_id":"'*) break ;; esac
  sleep 1
done
case "$answer" in
  *'"last_message_id":"'*) echo "quickstart: curl $query → ${answer:0:240}…" ;;
  *) fail "no messages in the demo's channels after publish-demo: $answer" ;;
esac

stop_dev
dev_pid=""
grep -q '"exitCode":0,"msg":"stopped"' "$work/dev.log" || fail "the service did not stop cleanly on SIGTERM"
echo "quickstart: ok"
