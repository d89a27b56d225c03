#!/usr/bin/env python3
"""docroot.py - the benchmark docroot compare.py serves, built here so no outside harness is
needed. The same bytes on every machine (a seeded generator), so runs on two machines or two
days serve the same files.

  index.html              600 bytes of HTML (the `index` scenario asks for /)
  small.bin               1 KiB           16k.bin   16 KiB           1m.bin   1 MiB
  tree/dNNN/fNN.html      TREE_FILES small files (1900..2199 bytes of text), 100 a folder
  tree-paths.txt          one URL path a line (/tree/...), for the `tree` scenario's client

  bench/e2e/docroot.py DIR [--tree-files N]     (a no-op when DIR is already built alike)

Everything is world-readable (servers started as root serve as nobody). Python 3 standard
library only.
"""
import argparse
import os
import random
import shutil

VERSION = "spate-bench-docroot-1"
FILES = {"small.bin": 1024, "16k.bin": 16 << 10, "1m.bin": 1 << 20}
TREE_FILES = 20000
PER_DIR = 100


def _index_html():
    head = ('<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
            "<title>spate bench</title></head>\n<body>\n<h1>spate bench</h1>\n"
            '<p><a href="/small.bin">small</a> <a href="/16k.bin">16k</a> '
            '<a href="/1m.bin">1m</a></p>\n<p>')
    tail = "</p>\n</body>\n</html>\n"
    filler = ("The quick brown fox jumps over the lazy dog. " * 20)[:600 - len(head) - len(tail)]
    return (head + filler + tail).encode()


_ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
_TO_TEXT = bytes(_ALPHABET[b % len(_ALPHABET)] for b in range(256))


def _text(rng, size):
    """size bytes of printable text ending in a newline."""
    return rng.randbytes(size - 1).translate(_TO_TEXT) + b"\n"


def tree_path(i):
    return "/tree/d%03d/f%02d.html" % (i // PER_DIR, i % PER_DIR)


def _stamp(tree_files):
    return "%s tree=%d\n" % (VERSION, tree_files)


def build(root, tree_files=TREE_FILES):
    """Builds (or keeps, when already built alike) the docroot in root; returns root.
    tree_files None: any tree that is there will do, and none is built when it is new."""
    stamp = os.path.join(root, ".stamp")
    try:
        with open(stamp) as f:
            have = f.read()
        if (have.startswith(VERSION + " ") if tree_files is None
                else have == _stamp(tree_files)):
            return root
    except OSError:
        pass
    tree_files = tree_files or 0
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    if os.path.exists(stamp):
        os.unlink(stamp)
    shutil.rmtree(os.path.join(root, "tree"), ignore_errors=True)
    rng = random.Random(16)
    for name, size in FILES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(rng.randbytes(size))
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(_index_html())
    paths = []
    for i in range(tree_files):
        p = tree_path(i)
        full = os.path.join(root, p[1:])
        if i % PER_DIR == 0:
            os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(_text(rng, 1900 + rng.randrange(300)))
        paths.append(p)
    with open(os.path.join(root, "tree-paths.txt"), "w") as f:
        f.write("".join(p + "\n" for p in paths))
    for d, _, files in os.walk(root):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    with open(stamp, "w") as f:
        f.write(_stamp(tree_files))
    return root


def tree_paths(root):
    with open(os.path.join(root, "tree-paths.txt")) as f:
        return [line.strip() for line in f if line.strip()]


def file_bytes(root, path):
    """The bytes a server must answer for URL path (a path ending in / is its index.html)."""
    if path.endswith("/"):
        path += "index.html"
    with open(os.path.join(root, path.lstrip("/")), "rb") as f:
        return f.read()


def warm(root, paths):
    """Reads the files behind paths, so that a run starts with them in the page cache."""
    for p in paths:
        file_bytes(root, p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--tree-files", type=int, default=TREE_FILES)
    a = ap.parse_args()
    build(a.dir, a.tree_files)
    print("docroot ready: %s (%d tree files)" % (a.dir, a.tree_files))


if __name__ == "__main__":
    main()
