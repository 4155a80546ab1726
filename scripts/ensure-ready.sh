#!/usr/bin/env bash
# Runs before `npm run dev` and `npm test`: checks Node 24 and installs dependencies when they are missing or
# older than package-lock.json, so a fresh clone needs no separate install step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then
  echo "readstates needs Node.js 24 or newer; this is $(node --version)." >&2
  echo "Get it with your version manager (nvm install 24), or without one:" >&2
  echo "  npm install --prefix ~/.cache/readstates/node24 node@24 && export PATH=~/.cache/readstates/node24/node_modules/.bin:\$PATH" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "--- installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
