#!/usr/bin/python3
"""Sanity statistics for the Loom corpus files.

    /usr/bin/python3 tools/corpus/stats.py [FILE.txt.gz ...]

Defaults to data/corpus/{train,val,moby-dick}.txt.gz. Prints, per file: raw and
gzip sizes, characters, lines, blank-line-separated paragraphs, words,
distinct characters, the 20 most frequent characters, and all non-ASCII
characters with counts. Also checks the output conventions (UTF-8, NFC, no CR,
no tabs/control characters, no trailing spaces, single final newline).
"""

import collections
import gzip
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT = [os.path.join(ROOT, "data", "corpus", n + ".txt.gz") for n in ("train", "val", "moby-dick")]


def show(ch):
    return {"\n": "\\n", " ": "SP"}.get(ch, ch)


def main(paths):
    for path in paths:
        raw = gzip.open(path, "rb").read()
        text = raw.decode("utf-8")          # raises if not UTF-8
        counts = collections.Counter(text)
        problems = []
        if unicodedata.normalize("NFC", text) != text:
            problems.append("not NFC")
        if "\r" in text:
            problems.append("CR present")
        if any((ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f for c in counts):
            problems.append("control chars")
        if " \n" in text or "\n " in text or "  " in text:
            problems.append("stray spaces")
        if "\n\n\n" in text or not text.endswith("\n") or text.endswith("\n\n"):
            problems.append("blank-line structure")
        print("== %s" % os.path.relpath(path, ROOT))
        print("bytes %d (gzip %d)  chars %d  lines %d  paragraphs %d  words %d"
              % (len(raw), os.path.getsize(path), len(text), text.count("\n"),
                 text.count("\n\n") + 1, len(text.split())))
        print("distinct characters %d (non-ASCII %d)  checks: %s"
              % (len(counts), sum(1 for c in counts if ord(c) > 127),
                 ", ".join(problems) if problems else "ok"))
        top = counts.most_common(20)
        print("top 20: " + " ".join("%s:%.2f%%" % (show(c), 100.0 * n / len(text)) for c, n in top))
        non_ascii = sorted(((c, n) for c, n in counts.items() if ord(c) > 127), key=lambda x: (-x[1], x[0]))
        print("non-ASCII: " + " ".join("%s(U+%04X):%d" % (c, ord(c), n) for c, n in non_ascii))
        print()


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
