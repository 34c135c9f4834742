#!/usr/bin/env bash
# Records llama.cpp's tokenization of data/tokenizers/sample-multilingual.txt for each committed tokenizer:
#  (a) `loom tokenizer gguf` writes a vocab-only GGUF from each data/tokenizers/<name> (as convert_hf_to_gguf.py would),
#  (b) tools/llamacpp/tokenize_oracle.c runs llama_tokenize on it (add_special=true, parse_special=true and false),
#  (c) the ids and pieces go to tests/fixtures/tokenizers/gguf/<name>.json.
# It also records llama.cpp's own ggml-vocab-llama-spm.gguf (Llama 2's real SentencePiece vocabulary with its scores) on its
# .inp cases and on the sample (the GGUF is copied gzip'd, it is small).
# Tests (tests/Loom.Models.Tests/GgufTokenizerTests.cs) rebuild the same vocabularies and compare; they need no llama.cpp.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
bins="$(bash tools/llamacpp/install.sh)"
mkdir -p tools/llamacpp/build/vocab tests/fixtures/tokenizers/gguf
gcc -O2 tools/llamacpp/tokenize_oracle.c -o tools/llamacpp/build/tokenize_oracle \
  -Itools/llamacpp/src/include -Itools/llamacpp/src/ggml/include \
  -L"$bins" -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so -Wl,-rpath,"$bins"
dotnet build src/Loom.Cli -c Release -v q -nologo >/dev/null
loom() { dotnet "src/Loom.Cli/bin/Release/net10.0/loom.dll" "$@"; }
sample=data/tokenizers/sample-multilingual.txt
for name in gpt2 llama3 llama3_1 qwen3 deepseek_v3 llama2 gemma3; do
  case "$name" in
    gpt2) src=data/tokenizers/gpt2.tokenizer.json.gz ;;
    llama3) src=data/tokenizers/llama3.tokenizer.json.gz; cfg=(--config data/tokenizers/llama3/tokenizer_config.json) ;;
    *) src=data/tokenizers/$name ;;
  esac
  [ "$name" = llama3 ] || cfg=()
  gguf=tools/llamacpp/build/vocab/$name.gguf
  loom tokenizer gguf --tokenizer "$src" "${cfg[@]}" --out "$gguf"
  tools/llamacpp/build/tokenize_oracle "$bins" "$gguf" "$sample" 2>/dev/null > tests/fixtures/tokenizers/gguf/$name.json
  echo "recorded tests/fixtures/tokenizers/gguf/$name.json"
done
for v in llama-spm; do
  m=tools/llamacpp/src/models/ggml-vocab-$v.gguf
  tools/llamacpp/build/tokenize_oracle "$bins" "$m" "$m.inp" --cases 2>/dev/null > tests/fixtures/tokenizers/gguf/llamacpp-$v.json
  tools/llamacpp/build/tokenize_oracle "$bins" "$m" "$sample" 2>/dev/null > tests/fixtures/tokenizers/gguf/llamacpp-$v-sample.json
  gzip -9nc "$m" > tests/fixtures/tokenizers/gguf/ggml-vocab-$v.gguf.gz
  cp "$m.inp" tests/fixtures/tokenizers/gguf/ggml-vocab-$v.gguf.inp
  echo "recorded llama.cpp's $v cases"
done
