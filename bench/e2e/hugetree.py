#!/usr/bin/env python3
"""hugetree.py - the million-file tree of the `huge-tree` benchmark, generated, never stored.

    hugetree.py gen ROOT [--files N] [--per-dir K] [--seed S]

Writes ROOT/t/DDD/FFFF.bin: N files (default 1,000,000), K per directory (default 1,000),
sizes uniform in 1..16 KiB, bytes derived from the seed and the file's number, and
ROOT/tree-paths.txt: every URL path once, in a fixed shuffled order. That order is the
popularity order of bench/e2e/zipf.lua (line 1 is the most requested file): shuffled so
that popular files are spread over the directories, as on a real site, not packed into the
first one. The same seed gives the same tree, byte for byte, on every machine.

Existing files of the right size are kept (a rerun after an interruption finishes the job).
About 8.5 GB for the default tree; about 3 minutes on an ext4 VM disk.
"""
import argparse
import os
import random
import sys

KIB = 1024


def layout(n, per_dir, seed):
    """(url path, size) of every file, in file-number order."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d, f = divmod(i, per_dir)
        out.append(("/t/%03d/%04d.bin" % (d, f), rng.randint(1 * KIB, 16 * KIB)))
    return out


def content(block, i, path, size):
    """The file's bytes: its own path first (a server sending the wrong file is caught),
    then a window of the seeded block that depends on the file's number."""
    head = (path + "\n").encode()
    start = (i * 7919) % (len(block) // 2)
    body = block[start:start + size]
    return (head + body)[:size]


def gen(args):
    files = layout(args.files, args.per_dir, args.seed)
    block = random.Random(args.seed ^ 0x5A5A).randbytes(64 * KIB)
    made = kept = 0
    last_dir = None
    for i, (path, size) in enumerate(files):
        fn = os.path.join(args.root, path.lstrip("/"))
        d = os.path.dirname(fn)
        if d != last_dir:
            os.makedirs(d, exist_ok=True)
            last_dir = d
        try:
            if os.stat(fn).st_size == size:
                kept += 1
                continue
        except FileNotFoundError:
            pass
        fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, content(block, i, path, size))
        finally:
            os.close(fd)
        made += 1
        if made % 100000 == 0:
            print("hugetree: %d files written" % made, file=sys.stderr, flush=True)
    order = [p for p, _ in files]
    random.Random(args.seed + 1).shuffle(order)
    tmp = os.path.join(args.root, "tree-paths.txt.tmp")
    with open(tmp, "w") as f:
        f.write("".join(p + "\n" for p in order))
    os.replace(tmp, os.path.join(args.root, "tree-paths.txt"))
    total = sum(s for _, s in files)
    print("hugetree: %d files (%d written, %d kept), %.2f GB, in %s" %
          (len(files), made, kept, total / 1e9, args.root))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write the tree and its path list")
    g.add_argument("root")
    g.add_argument("--files", type=int, default=1000000)
    g.add_argument("--per-dir", type=int, default=1000)
    g.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()
    if args.cmd == "gen":
        gen(args)


if __name__ == "__main__":
    main()
