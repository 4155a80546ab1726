#!/usr/bin/env bash
# Runs before `npm run dev` and `npm test`: installs the dependencies when they are missing or older than
# package-lock.json. Node 24 is one of them (npm's `node` package), so a fresh clone needs no other step whatever
# Node started npm (18 or newer): npm puts node_modules/.bin first on the PATH of every script it runs, and the
# `node` there is Node 24.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "--- installing dependencies (npm ci), Node 24 among them"
  npm ci --no-audit --no-fund --loglevel=error
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then
  echo "readstates runs on Node.js 24; this is $(node --version) ($(command -v node))." >&2
  echo "Run it through npm (npm run dev, npm test, npm start, npx readstates …), which puts the project's own" >&2
  echo "Node 24 (node_modules/.bin/node) first on the PATH, or call node_modules/.bin/node yourself." >&2
  exit 1
fi
