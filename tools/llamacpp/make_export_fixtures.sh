#!/usr/bin/env bash
# Records tests/fixtures/llamacpp/default_model_<TYPE>.json: the bundled Loom-trained model (models/default) exported
# with `loom convert` to GGUF runs in llama.cpp (llama_oracle: tokens, logits of every position with an F32 KV cache,
# 32 greedy tokens), and Loom's run of the same file is compared for REPORT.md (rows "llama / default").
# Run after make_parity_fixtures.sh (it rewrites REPORT.md from all rows in $WORK/rows).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
oracle="$(tools/llamacpp/build.sh)"
work="${WORK:-/tmp/loom-parity}"
out="tests/fixtures/llamacpp"
mkdir -p "$work/rows"
prompt="$out/default_prompt.txt"
dotnet build src/Loom.Cli -c Release -v q -nologo >&2
dotnet build tools/llamacpp/ParityRecorder -c Release -v q -nologo >&2
loom="dotnet src/Loom.Cli/bin/Release/net10.0/loom.dll"
recorder="dotnet tools/llamacpp/ParityRecorder/bin/Release/net10.0/ParityRecorder.dll"
for type in ${TYPES:-F32 Q8_0}; do
  gguf="$work/default-$type.gguf"
  $loom convert models/default "$gguf" --type "$type" >&2
  "$oracle" logits "$gguf" "$prompt" "$work/default-$type.f32" --threads 2 > "$work/default-$type.oracle.json"
  $recorder record --gguf "$gguf" --oracle-json "$work/default-$type.oracle.json" --logits "$work/default-$type.f32" \
    --arch llama --tokenizer default --type "$type" --seed 0 --shape models/default --prompt "$prompt" \
    --out "$out/default_model_$type.json" --row "$work/rows/default-$type.json"
  rm -f "$work/default-$type.f32" "$gguf"
done
$recorder report --rows "$work/rows" --out "$out/REPORT.md" || true
