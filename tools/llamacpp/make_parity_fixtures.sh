#!/usr/bin/env bash
# Records tests/fixtures/llamacpp: for every architecture x tensor type, writes a tiny random-weight GGUF with
# `loom make-test-model` (fixed seed, real tokenizer), runs llama.cpp on the committed prompt (llama_oracle: logits of
# every position with an F32 KV cache, 32 greedy tokens), keeps a compact fixture (tokens, greedy, argmax per position,
# logits at a seeded subset of ids) and compares Loom on the same file over the full vocabulary for REPORT.md.
# Usage: tools/llamacpp/make_parity_fixtures.sh [ARCH:TOKENIZER[:TYPES] ...]   (default: the list below; TYPES=F32,Q8_0 overrides)
# Needs: npm, git, gcc, dotnet. Work files go to ${WORK:-/tmp/loom-parity}.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
oracle="$(tools/llamacpp/build.sh)"
work="${WORK:-/tmp/loom-parity}"
out="tests/fixtures/llamacpp"
mkdir -p "$work/rows" "$out"
seed=1234
shape=tiny
prompt="$out/prompt.txt"
threads="${THREADS:-2}"

dotnet build src/Loom.Cli -c Release -v q -nologo >&2
dotnet build tools/llamacpp/ParityRecorder -c Release -v q -nologo >&2
recorder="dotnet tools/llamacpp/ParityRecorder/bin/Release/net10.0/ParityRecorder.dll"
# The tests write the same file through TestModelWriter in-process and check its SHA-256.
maker="dotnet src/Loom.Cli/bin/Release/net10.0/loom.dll make-test-model"

# ARCH:TOKENIZER[:TYPE,TYPE...] (TOKENIZER: data/tokenizers/NAME/tokenizer.json.gz, data/tokenizers/NAME.tokenizer.json.gz
# or tests/fixtures/llamacpp/NAME.tokenizer.json.gz). Every architecture gets every type with bpe4k, a 4,097-token
# byte-level BPE with Llama 3's pre-tokenizer (make_small_tokenizer.py): the tests regenerate each file, and the
# vocabulary sets its size. The real tokenizers of each family add their large vocabularies on a few types.
all_types="F32,F16,BF16,Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K"
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  cases=(llama:bpe4k qwen2:bpe4k qwen3:bpe4k phi3:bpe4k gemma:bpe4k gemma2:bpe4k
         llama:llama3_1:F32,Q8_0,Q4_K llama:llama2:F32,Q8_0,Q4_K qwen2:qwen3:F32,Q8_0,Q4_K qwen3:qwen3:F32,Q8_0,Q4_K
         phi3:llama2:F32,Q8_0,Q4_K gemma:gemma3:F32,Q8_0,Q4_K gemma2:gemma3:F32,Q8_0,Q4_K)
fi

error_row() { # name arch tok type message
  printf '{"arch":"%s","tokenizer":"%s","type":"%s","error":"%s"}\n' "$2" "$3" "$4" "$(echo "$5" | tr -d '"\\' | tr '\n' ' ' | cut -c1-300)" > "$work/rows/$1.json"
}

for c in "${cases[@]}"; do
  IFS=: read -r arch tok types <<< "$c"
  types="${TYPES:-${types:-$all_types}}"
  tokfile="data/tokenizers/$tok/tokenizer.json.gz"
  [ -f "$tokfile" ] || tokfile="data/tokenizers/$tok.tokenizer.json.gz"
  [ -f "$tokfile" ] || tokfile="$out/$tok.tokenizer.json.gz"
  for type in ${types//,/ }; do
    name="$arch-$tok-$type"
    gguf="$work/$name.gguf"
    echo "== $name" >&2
    if ! msg="$($maker --arch "$arch" --type "$type" --seed "$seed" --shape "$shape" --tokenizer "$tokfile" --out "$gguf" 2>&1)"; then
      echo "Loom cannot write $name: $msg" >&2
      error_row "$name" "$arch" "$tok" "$type" "TestModelWriter: $(echo "$msg" | grep -m1 -v '^ *at ')"
      continue
    fi
    if ! "$oracle" logits "$gguf" "$prompt" "$work/$name.f32" --threads "$threads" > "$work/$name.oracle.json" 2> "$work/$name.oracle.err"; then
      echo "llama.cpp failed on $name" >&2
      error_row "$name" "$arch" "$tok" "$type" "llama.cpp: $(tail -1 "$work/$name.oracle.err")"
      rm -f "$gguf"
      continue
    fi
    $recorder record --gguf "$gguf" --oracle-json "$work/$name.oracle.json" --logits "$work/$name.f32" \
      --arch "$arch" --tokenizer "$tok" --type "$type" --seed "$seed" --shape "$shape" --prompt "$prompt" \
      --out "$out/$name.json" --row "$work/rows/$name.json"
    rm -f "$work/$name.f32" "$gguf"
  done
done
$recorder report --rows "$work/rows" --out "$out/REPORT.md" || true
du -sh "$out" >&2
