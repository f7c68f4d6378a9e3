#!/usr/bin/env python3
"""Fold new inputs into a committed corpus, keeping it small: edge coverage only.

    fuzz/merge_corpus.py [--build build/fuzz] fuzz_<unit> DIR...

`libFuzzer -merge=1` keeps every input with a new *feature* (edge hit-count buckets too),
which for a parser means hundreds of near-duplicates. This script runs the merge only for its
control file (per input: the covered PC indices, "COV" lines), then picks greedily, smallest
first, the inputs of DIR... that cover an edge not yet covered by corpus/fuzz_<unit>/ (whose
files are all kept), and copies them there under their SHA-256 names. Prints what it added.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "fuzz"),
                    help="build dir with libFuzzer targets (fuzz preset)")
    ap.add_argument("target")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()

    binary = os.path.join(args.build, "fuzz", args.target)
    corpus = os.path.join(ROOT, "corpus", args.target)
    if not os.access(binary, os.X_OK):
        sys.exit("no libFuzzer binary %s (build the fuzz preset)" % binary)
    os.makedirs(corpus, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        # The committed corpus goes first (a copy: merge writes into the first directory), so
        # the control file's COV lines of the other inputs list only edges it does not cover.
        control = os.path.join(tmp, "control")
        first = os.path.join(tmp, "committed")
        shutil.copytree(corpus, first)
        cmd = [binary, "-merge=1", "-max_len=4096", "-merge_control_file=" + control, first] + \
            args.dirs
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if res.returncode != 0:
            sys.stderr.write(res.stderr.decode(errors="replace")[-3000:])
            sys.exit("merge failed (a crashing input? reproduce it first)")
        with open(control, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")

    # Control file: N, N_first, N paths, then per input "STARTED i size", "FT i ...",
    # "COV i ..." where FT/COV list only what no input processed before it had (the first
    # directory's inputs are processed first, then the rest, each group smallest first).
    n = int(lines[0])
    n_first = int(lines[1])
    files = lines[2:2 + n]
    cov = {}
    for line in lines[2 + n:]:
        if line.startswith("COV "):
            parts = line.split()
            cov[int(parts[1])] = set(int(p) for p in parts[2:])

    covered = set()
    for i in range(n_first):
        covered |= cov.get(i, set())
    before = len(covered)

    candidates = [i for i in range(n_first, n) if i in cov]
    candidates.sort(key=lambda i: (os.path.getsize(files[i]), files[i]))
    added = 0
    added_bytes = 0
    for i in candidates:
        new = cov[i] - covered
        if not new:
            continue
        covered |= new
        with open(files[i], "rb") as f:
            data = f.read()
        dest = os.path.join(corpus, hashlib.sha256(data).hexdigest())
        if not os.path.exists(dest):
            shutil.copyfile(files[i], dest)
            added += 1
            added_bytes += len(data)
    print("%s: %d edges covered before, %d after; added %d files (%d bytes); corpus now %d files"
          % (args.target, before, len(covered), added, added_bytes, len(os.listdir(corpus))))


if __name__ == "__main__":
    main()
