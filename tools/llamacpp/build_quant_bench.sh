#!/usr/bin/env bash
# Builds tools/llamacpp/build/quant_bench (ggml's quantized mul_mat timing) that `loom bench quant` runs alongside Loom.
# Needs gcc and the npm llama.cpp (installed here by install.sh if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
B="$(bash "$here/install.sh")"
mkdir -p "$here/build"
gcc -O2 -o "$here/build/quant_bench" "$here/quant_bench.c" -I"$here/src/ggml/include" \
  -L"$B" -l:libggml-base.so -ldl -lm -Wl,-rpath,"$B"
echo "$here/build/quant_bench"
