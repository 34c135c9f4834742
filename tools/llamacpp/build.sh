#!/usr/bin/env bash
# Builds tools/llamacpp/build/llama_oracle (and the layout probe used to check Loom's P/Invoke structs) against the
# npm llama.cpp installed by install.sh. Prints the path of the oracle.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bins="$("$here/install.sh")"
mkdir -p "$here/build"
flags=(-O2 -Wall -I"$here/src/include" -I"$here/src/ggml/include" -L"$bins"
       -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so -Wl,-rpath,"$bins")
gcc "$here/llama_oracle.c" -o "$here/build/llama_oracle" -DORACLE_BINS="\"$bins\"" "${flags[@]}" >&2
if [ -f "$here/layout_probe.c" ]; then
  gcc "$here/layout_probe.c" -o "$here/build/layout_probe" "${flags[@]}" >&2
fi
echo "$here/build/llama_oracle"
