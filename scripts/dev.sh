#!/usr/bin/env bash
# `npm run dev`: the local broker, then the service in the foreground. A newcomer's first curl should just work,
# so /v1 answers without a token (AUTH_DISABLED=true) unless the caller set AUTH_DISABLED; the service warns at
# start, and so does this script. /admin needs API_TOKENS even here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local-kafka/kafka-up.sh
export AUTH_DISABLED="${AUTH_DISABLED:-true}"
if [ "$AUTH_DISABLED" = true ] || [ "$AUTH_DISABLED" = 1 ]; then
  echo "--- npm run dev: AUTH_DISABLED=true, /v1 answers without a token (development only)." >&2
  if [ -z "${API_TOKENS:-}" ]; then
    echo "    /admin and \`readstates rebuild\` need a token: API_TOKENS=dev-token-0123456789 npm run dev" >&2
  fi
fi
exec bash scripts/serve.sh
