#!/usr/bin/env bash
# Installs llama.cpp's prebuilt Linux x64 libraries from npm (node-llama-cpp + @node-llama-cpp/linux-x64) into
# tools/llamacpp/node_modules, and unpacks the matching llama.cpp sources (headers) from the package's git bundle
# into tools/llamacpp/src. Prints the folder holding libllama.so. Idempotent; needs only npm and git.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules/@node-llama-cpp/linux-x64/bins ]; then
  [ -f package.json ] || echo '{"private":true}' > package.json
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-save --ignore-scripts --no-audit --no-fund \
    node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 >&2
fi
if [ ! -f src/include/llama.h ]; then
  rm -rf src
  git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle src 2>/dev/null
fi
bins="$(ls -d "$here"/node_modules/@node-llama-cpp/linux-x64/bins/*/ | head -1)"
echo "${bins%/}"
