"""tools/precompress: the .gz/.br/.zst variants of a tree, their mtimes, what is skipped, and
that runs are idempotent (docs/precompress.md)."""
import os
import shutil
import subprocess
import sys

import pytest

SRC = os.environ.get("SPATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
TOOL = os.path.join(SRC, "tools", "precompress")
SUFFIXES = {"gzip": ".gz", "br": ".br", "zstd": ".zst"}
DECOMPRESS = {".gz": ["gzip", "-d", "-c"], ".br": ["brotli", "-d", "-c"],
              ".zst": ["zstd", "-d", "-q", "-c"]}
TEXT = b"".join(b"<p>line %d of a page that compresses well</p>\n" % i for i in range(300))
# compressible names: spaces, a newline, a leading dash, a subdirectory
COMPRESSIBLE = ["index.html", "with space.txt", "new\nline.css", "-dash.js", "sub/deep/app.js"]


@pytest.fixture(autouse=True)
def compressors():
    for tool, pkg in (("gzip", "gzip"), ("brotli", "brotli"), ("zstd", "zstd")):
        assert shutil.which(tool), "%s is missing: apt-get install %s (tools/deps test)" % (
            tool, pkg)


def run(*args, env=None, check=True):
    p = subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, env=env,
                       timeout=120)
    if check:
        assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    outside = tmp_path / "outside"
    (root / "sub" / "deep").mkdir(parents=True)
    outside.mkdir()
    for name in COMPRESSIBLE:
        (root / name).write_bytes(TEXT + name.encode())
    (root / "random.bin").write_bytes(os.urandom(20000))  # does not shrink
    (root / "image.png").write_bytes(TEXT)  # compressible bytes, but a type skipped by name
    (root / "font.WOFF2").write_bytes(TEXT)
    (root / "tiny.txt").write_bytes(b"short\n")  # under --min-size
    (outside / "secret.txt").write_bytes(TEXT)
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    # the originals get distinct, old mtimes (nanoseconds), so "equal to the original" is
    # not equal to "now"
    for i, name in enumerate(COMPRESSIBLE + ["random.bin"]):
        os.utime(root / name, ns=(1_600_000_000_123_456_789 + i, 1_600_000_000_987_654_321 + i))
    return root, outside


def variants(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                  for f in fs if f.endswith((".gz", ".br", ".zst")))


def decompress(path):
    cmd = DECOMPRESS[os.path.splitext(path)[1]]
    with open(path, "rb") as f:
        return subprocess.run(cmd, stdin=f, capture_output=True, check=True).stdout


def test_writes_variants_that_decompress_with_the_originals_mtime(tree):
    root, outside = tree
    p = run("-j", "3", str(root))
    out = p.stdout.decode()
    assert "15 written" in out, out
    want = sorted(n + s for n in COMPRESSIBLE for s in SUFFIXES.values())
    assert variants(root) == want
    for name in COMPRESSIBLE:
        orig = os.stat(root / name)
        for suffix in SUFFIXES.values():
            v = root / (name + suffix)
            vst = os.lstat(v)
            assert vst.st_mtime_ns == orig.st_mtime_ns, v
            assert vst.st_mode == orig.st_mode
            assert vst.st_size * 10 <= orig.st_size * 9
            assert decompress(v) == (root / name).read_bytes(), v
    # nothing next to the link, nothing written outside the tree, no temporary left
    assert os.listdir(outside) == ["secret.txt"]
    assert not [f for _, _, fs in os.walk(root) for f in fs if ".precompress-" in f]
    assert "3 not shrinking" in out and "skipped by type" in out


def test_second_run_writes_nothing_and_a_touch_rewrites(tree):
    root, _ = tree
    run(str(root))
    before = {v: os.lstat(root / v) for v in variants(root)}
    out = run(str(root)).stdout.decode()
    assert "0 written, 15 up to date" in out, out
    after = {v: os.lstat(root / v) for v in variants(root)}
    assert {v: (s.st_ino, s.st_mtime_ns) for v, s in before.items()} == \
        {v: (s.st_ino, s.st_mtime_ns) for v, s in after.items()}

    # an edit (newer mtime) makes the variants stale: the next run rewrites those three
    target = root / "index.html"
    target.write_bytes(TEXT + b"edited")
    out = run(str(root)).stdout.decode()
    assert "3 written, 12 up to date" in out, out
    for suffix in SUFFIXES.values():
        v = str(target) + suffix
        assert os.lstat(v).st_mtime_ns == os.stat(target).st_mtime_ns
        assert decompress(v) == TEXT + b"edited"

    # an older version put back (rsync -a, a tar of an earlier release): its variants,
    # newer than it now, are rewritten as well
    os.utime(target, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    out = run(str(root)).stdout.decode()
    assert "3 written" in out, out


def test_a_variant_that_stops_shrinking_is_removed(tree):
    root, _ = tree
    run(str(root))
    # index.html becomes incompressible: its old variants go
    (root / "index.html").write_bytes(os.urandom(8000))
    out = run(str(root)).stdout.decode()
    assert "3 old ones removed" in out, out
    assert not [v for v in variants(root) if v.startswith("index.html")]


def test_dry_run_writes_nothing(tree):
    root, _ = tree
    out = run("--dry-run", "-v", str(root)).stdout.decode()
    assert "15 would be written" in out, out
    assert "would write" in out
    assert variants(root) == []


def test_formats_min_size_and_all_types(tree):
    root, _ = tree
    run("--formats", "gz", str(root))
    assert variants(root) == sorted(n + ".gz" for n in COMPRESSIBLE)
    run("--remove", str(root))
    run("--min-size", str(len(TEXT) + 100), str(root))
    assert variants(root) == []
    run("--formats", "zstd", "--all-types", str(root))
    assert "image.png.zst" in variants(root) and "font.WOFF2.zst" in variants(root)
    assert "tiny.txt.zst" not in variants(root)


def test_remove_deletes_only_variants(tree):
    root, _ = tree
    run(str(root))
    lone = root / "archive.tar.gz"  # a file of the tree, not a variant: no archive.tar
    lone.write_bytes(b"\x1f\x8b not really")
    out = run("--remove", str(root)).stdout.decode()
    assert "15 variants removed" in out, out
    assert variants(root) == ["archive.tar.gz"]
    for name in COMPRESSIBLE:
        assert (root / name).read_bytes() == TEXT + name.encode()


def test_errors(tree, tmp_path):
    root, _ = tree
    p = run(str(root / "index.html"), check=False)
    assert p.returncode == 2 and b"not a directory" in p.stderr
    p = run(str(tmp_path / "missing"), check=False)
    assert p.returncode == 2 and b"not a directory" in p.stderr
    # a PATH with gzip only: brotli is named, nothing is written
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("gzip"), bindir / "gzip")
    p = run(str(root), env=dict(os.environ, PATH=str(bindir)), check=False)
    assert p.returncode == 2 and b"brotli not found" in p.stderr, p.stderr
    assert variants(root) == []
    # that PATH is enough for gzip alone
    run("--formats", "gzip", "-q", str(root), env=dict(os.environ, PATH=str(bindir)))
    assert variants(root) == sorted(n + ".gz" for n in COMPRESSIBLE)
    p = run("--formats", "lz4", str(root), check=False)
    assert p.returncode == 2 and b"unknown format" in p.stderr


def test_help_lists_skipped_types():
    out = run("--help").stdout.decode()
    for word in ("woff2", "png", "mp4", "mp3", "zip", "--min-size", "--formats", "-j"):
        assert word in out
