#!/usr/bin/env python3
"""cold.py - does a cold file stall the other connections of a core?

One worker pinned to CPU 0 serves a 1 KiB file to wrk (-c4, CPU 1, --latency) while curl
downloads a 1 GiB file that is not in the page cache (dropped with POSIX_FADV_DONTNEED before
each run). Reports p50/p99/max latency of the small requests for: no download, a hot (cached)
download, and cold downloads with `cold_file_reads off` (sendfile reads the disk inside the
worker) and `on` (uncached ranges are read asynchronously with io_uring, then sent).

  bench/e2e/cold.py [--spate build/spate] [--size-mib 1024] [--seconds 8]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run(args, docroot, cold_reads, download):
    conf = os.path.join(docroot, "..", "cold.conf")
    with open(conf, "w") as f:
        f.write("workers 1;\ncold_file_reads %s;\nserver { listen 127.0.0.1:0; root %s; }\n"
                % ("on" if cold_reads else "off", docroot))
    p = subprocess.Popen(["taskset", "-c", "0", args.spate, "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline().split(b":")[-1].split()[0])
    big = os.path.join(docroot, "big.bin")
    if download == "cold":
        drop(big)
    elif download == "hot":
        warm(big)
    dl = None
    if download:
        # rate-limited, so the downloading client does not compete with wrk for CPU 1
        dl = subprocess.Popen(["taskset", "-c", "1", "curl", "-s", "--limit-rate", "100M",
                               "-o", "/dev/null", "-w",
                               "%{size_download} %{time_total}",
                               "http://127.0.0.1:%d/big.bin" % port], stdout=subprocess.PIPE)
        time.sleep(0.2)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c4", "-d%ds" % args.seconds,
                          "--latency", "http://127.0.0.1:%d/small.bin" % port],
                         capture_output=True, text=True).stdout
    dlinfo = ""
    if dl:
        dl.kill()
        dl.wait()
    p.terminate()
    p.wait()
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    mx = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    rps = re.search(r"Requests/sec:\s+(\S+)", out)
    return lat.get("50", "?"), lat.get("99", "?"), mx.group(1) if mx else "?", \
        rps.group(1) if rps else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spate", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cold-")
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    docroot = os.path.join(tmp, "www")
    os.makedirs(docroot)
    with open(os.path.join(docroot, "small.bin"), "wb") as f:
        f.write(os.urandom(1024))
    with open(os.path.join(docroot, "big.bin"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(args.size_mib):
            f.write(chunk)
    print("| small-file requests while | cold_file_reads | p50 | p99 | max | req/s |")
    print("|---|---|---|---|---|---|")
    for label, reads, dl in [("nothing else", True, None), ("a cached 1 GiB download at 100 MB/s", True, "hot"),
                             ("a cold 1 GiB download at 100 MB/s", False, "cold"),
                             ("a cold 1 GiB download at 100 MB/s", True, "cold")]:
        p50, p99, mx, rps = run(args, docroot, reads, dl)
        print("| %s | %s | %s | %s | %s | %s |" % (label, "on" if reads else "off", p50, p99, mx,
                                                  rps))
        sys.stdout.flush()
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
