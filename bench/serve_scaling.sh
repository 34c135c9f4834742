#!/usr/bin/env bash
# Issue 5's scaling figure: aggregate generated tokens/s of N streaming clients over one client's, on the bundled model.
# The two runs alternate ROUNDS times (this VM is shared and noisy) and the median of the per-round ratios is printed.
# Every response is also checked against a lone request with the same seed (bench serve --verify); a mismatch stops the script.
# Usage: bench/serve_scaling.sh [CLIENTS=8] [ROUNDS=5] [MAX_TOKENS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-8}"; rounds="${2:-5}"; max_tokens="${3:-64}"
dotnet build src/Loom.Cli -c Release -v q -nologo >&2
loom="dotnet src/Loom.Cli/bin/Release/net10.0/loom.dll"
tps() { $loom bench serve --clients "$1" --requests "$2" --max-tokens "$max_tokens" --json 2>/dev/null | tail -1 \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["mismatches"] == 0, d; print(d["tokens_per_s"])'; }
ratios=()
for r in $(seq 1 "$rounds"); do
  one="$(tps 1 40)"; many="$(tps "$clients" $((20 * clients)))"
  ratio="$(python3 -c "print(round($many / $one, 2))")"
  echo "round $r: 1 client $one tok/s, $clients clients $many tok/s, ratio $ratio"
  ratios+=("$ratio")
done
python3 -c "import statistics,sys; print('median ratio', statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
