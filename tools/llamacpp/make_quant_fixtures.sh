#!/usr/bin/env bash
# Records ggml's quantize / dequantize / vec_dot results into tests/fixtures/quant/<TYPE>.lqf (see quant_oracle.c).
# Needs gcc and the npm llama.cpp (tools/llamacpp/install.sh, run here if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
B="$(bash "$here/install.sh")"
mkdir -p "$here/build" "$root/tests/fixtures/quant"
gcc -O2 -o "$here/build/quant_oracle" "$here/quant_oracle.c" -I"$here/src/ggml/include" \
  -L"$B" -l:libggml-base.so -ldl -lm -Wl,-rpath,"$B"
"$here/build/quant_oracle" "$B" "$root/tests/fixtures/quant"
