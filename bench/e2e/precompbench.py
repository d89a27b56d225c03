#!/usr/bin/env python3
"""precompbench.py - what precompressed variants and content negotiation cost per request,
against nginx's gzip_static (issue 11, "Tests and measurement").

Run as routebench.py runs: each case is a configuration and one request (with its
Accept-Encoding) that wrk -t1 (pinned to CPU 1) repeats over keep-alive connections to one
worker pinned to CPU 0 (taskset), 127.0.0.1. Every run starts its server fresh; the cases
compared run next to each other in every round (groups and the order within them rotate round
by round), since this machine has slow phases lasting tens of seconds. For each run: req/s,
server CPU microseconds per request (utime+stime of the server's process group, as wrkbench.py
counts it), client CPU, other load and steal (routebench.py's accounting), and the bytes of one
response on the wire (status line, headers and body, as wrk counts them). Medians over rounds;
ratios both as the ratio of medians and as the median of the per-round ratios.

  bench/e2e/precompbench.py [--bin build/spate] [--rounds 5] [--seconds 5] [--conns 64]
                            [--cases css-br-spate,css-gz-nginx,...] [--json out.json]

The tree (generated, deterministic): x.css, 100 KiB of CSS rules (selectors, colours from a
palette of 64, lengths: it compresses 5.7x with gzip -9, 6.6x with brotli -q 11, as real CSS
does, not 1000x), and pc/small.css, 1 KiB of the same; tools/precompress writes their .br,
.zst and .gz. plain/same.css has the size of pc/small.css.br, plain/small.css is pc/small.css;
mv/ holds doc.html, doc.json and doc.html.ko (1 KiB each) and no variants.

Cases:
  css-br-spate   GET /x.css, Accept-Encoding: br, gzip; `precompressed br zstd gzip;`: x.css.br
  css-gz-nginx   the same request to nginx with `gzip_static on; gzip_vary on;`: x.css.gz
  css-gz-spate   GET /x.css, Accept-Encoding: gzip, to spate as css-br-spate: x.css.gz
  css-gzs-spate  GET /gzs/x.css, Accept-Encoding: br, gzip; spate with nginx's own
                 `gzip_static on;`: the .gz, the same request and answer as css-gz-nginx
  neg-hit        GET /pc/small.css, Accept-Encoding: gzip, deflate, br (a browser's):
                 negotiation and the variant's lookup, small.css.br (S bytes)
  plain-S        GET /plain/same.css, no Accept-Encoding, a location without precompressed:
                 a plain file of S bytes, so the wire bytes match neg-hit's
  identity-vary  GET /pc/small.css, no Accept-Encoding, precompressed on: the 1 KiB original
                 with Vary: Accept-Encoding
  plain-1k       GET /plain/small.css, no Accept-Encoding, precompressed off: the same 1 KiB
  mv-hit         GET /mv/doc with Chromium's Accept and Accept-Language, `multiviews on;`
                 among doc.html, doc.json and doc.html.ko: doc.html (1 KiB), with Vary and
                 Content-Location
  mv-plain       GET /mv/doc.html, the same headers and location: the file itself

nginx (1.22, nginx-light has gzip_static) runs as routebench.py starts it (one worker, its
master, access_log off, sendfile on) plus open_file_cache, so that neither server opens the file
per request. spate: `workers 1;`, no access log (off by default). Needs wrk, nginx, brotli,
zstd, gzip (tools/deps bench, tools/deps test). Python 3 standard library only.
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from servers import free_port, group_cpu, wait_port  # noqa: E402  (the same CPU accounting)
import servers  # noqa: E402
from routebench import cpu_stat, pct, wrk_script  # noqa: E402

PRECOMPRESS = os.path.join(ROOT, "tools", "precompress")
BROWSER_AE = "gzip, deflate, br"
# what Chromium sends for a page (tests/integration/test_multiviews.py replays it)
CHROMIUM = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                      "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            "Accept-Language": "en-US,en;q=0.9"}


# ---------------------------------------------------------------- the tree

def css_text(size, seed):
    """size bytes of CSS rules: varied selectors and values, colours from a palette (real
    style sheets repeat theirs), so it compresses as real CSS does."""
    rnd = random.Random(seed)
    blocks = ["header", "nav", "main", "footer", "card", "btn", "modal", "form", "table", "list",
              "sidebar", "hero", "badge", "alert", "tooltip", "menu", "tab", "panel", "grid",
              "media"]
    parts = ["", "-title", "-body", "-item", "-link", "-icon", "-label", "-footer", "-header",
             "-wrap"]
    mods = ["", "", "--active", "--disabled", "--large", "--small", "--primary", "--dark",
            "--open"]
    pseudo = ["", "", "", ":hover", ":focus", "::before", ":first-child", ":not(.is-hidden)"]
    pal = [rnd.randrange(1 << 24) for _ in range(64)]
    props = [
        lambda: "color: #%06x" % rnd.choice(pal),
        lambda: "background-color: #%06x" % rnd.choice(pal),
        lambda: "margin: %dpx %dpx" % (rnd.randrange(0, 48, 2), rnd.randrange(0, 48, 2)),
        lambda: "padding: %.2frem %.2frem" % (rnd.randrange(40) / 8, rnd.randrange(40) / 8),
        lambda: "font-size: %.3frem" % (0.75 + rnd.randrange(24) / 16),
        lambda: "font-weight: %d" % rnd.choice((300, 400, 500, 600, 700)),
        lambda: "line-height: %.2f" % (1 + rnd.randrange(16) / 20),
        lambda: "border: %dpx %s rgba(%d, %d, %d, %.2f)" % (
            rnd.randrange(1, 4), rnd.choice(("solid", "dashed", "dotted")), rnd.randrange(256),
            rnd.randrange(256), rnd.randrange(256), rnd.randrange(10, 100) / 100),
        lambda: "border-radius: %dpx" % rnd.randrange(24),
        lambda: "display: %s" % rnd.choice(("block", "flex", "grid", "inline-block", "none")),
        lambda: "transition: %s %dms ease-in-out" % (
            rnd.choice(("opacity", "transform", "color", "background-color")),
            rnd.randrange(100, 600, 50)),
        lambda: "box-shadow: 0 %dpx %dpx rgba(0, 0, 0, %.2f)" % (
            rnd.randrange(1, 12), rnd.randrange(2, 32), rnd.randrange(5, 40) / 100),
        lambda: "width: %d%%" % rnd.randrange(10, 101),
        lambda: "z-index: %d" % rnd.randrange(1, 1000),
        lambda: "transform: translate(%dpx, %dpx) rotate(%ddeg)" % (
            rnd.randrange(-40, 40), rnd.randrange(-40, 40), rnd.randrange(360)),
    ]
    out, n = [], 0
    while n < size:
        sels = [".%s%s%s%s" % (rnd.choice(blocks), rnd.choice(parts), rnd.choice(mods),
                               rnd.choice(pseudo)) for _ in range(rnd.choice((1, 1, 1, 2, 3)))]
        body = "".join("  %s;\n" % rnd.choice(props)() for _ in range(rnd.randrange(2, 8)))
        b = "%s {\n%s}\n\n" % (",\n".join(sels), body)
        out.append(b)
        n += len(b)
    return "".join(out)[:size].encode()


def make_tree(doc):
    """The files, their variants (tools/precompress), and the sizes: {name: bytes}."""
    big, small = css_text(100 * 1024, 11), css_text(1024, 12)
    for d in ("", "gzs", "pc", "plain", "mv"):
        os.makedirs(os.path.join(doc, d), exist_ok=True)
    for rel, data in (("x.css", big), ("gzs/x.css", big), ("pc/small.css", small)):
        with open(os.path.join(doc, rel), "wb") as f:
            f.write(data)
    r = subprocess.run([sys.executable, PRECOMPRESS, "-q", "-j", "1", doc],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("precompbench: tools/precompress failed: %s" % r.stderr.strip())
    # plain/ has no variants: the plain cases serve what a location without precompressed does
    s = os.path.getsize(os.path.join(doc, "pc", "small.css.br"))
    with open(os.path.join(doc, "plain", "same.css"), "wb") as f:
        f.write(css_text(s, 13))
    with open(os.path.join(doc, "plain", "small.css"), "wb") as f:
        f.write(small)
    # MultiViews: /mv/doc is one of these three (doc.html for a browser asking for English)
    page = (b"<!doctype html>\n<html><head><title>doc</title></head><body>\n" +
            css_text(1024, 14) + b"</body></html>\n")[:1024]
    for n, data in (("doc.html", page), ("doc.json", b'{"doc": 1}\n' + b" " * 1012),
                    ("doc.html.ko", page)):
        with open(os.path.join(doc, "mv", n), "wb") as f:
            f.write(data)
    sizes = {}
    for dirpath, _, files in os.walk(doc):
        for n in files:
            p = os.path.join(dirpath, n)
            sizes[os.path.relpath(p, doc)] = os.path.getsize(p)
    return sizes


# ---------------------------------------------------------------- configurations

def spate_conf(port, doc):
    return """workers 1;
error_log stderr warn;
server {
  listen 127.0.0.1:%d;
  root %s;
  location / { precompressed br zstd gzip; }
  location /gzs/ { gzip_static on; }
  location /plain/ { }
  location /mv/ { multiviews on; }
}
""" % (port, doc)


def ae(v):
    return {"Accept-Encoding": v}


# name: (server, path, request headers, the file expected, its Content-Encoding)
CASES = {
    "css-br-spate": ("spate", "/x.css", ae("br, gzip"), "x.css.br", "br"),
    "css-gz-nginx": ("nginx", "/x.css", ae("br, gzip"), "x.css.gz", "gzip"),
    "css-gz-spate": ("spate", "/x.css", ae("gzip"), "x.css.gz", "gzip"),
    "css-gzs-spate": ("spate", "/gzs/x.css", ae("br, gzip"), "gzs/x.css.gz", "gzip"),
    "neg-hit": ("spate", "/pc/small.css", ae(BROWSER_AE), "pc/small.css.br", "br"),
    "plain-S": ("spate", "/plain/same.css", {}, "plain/same.css", None),
    "identity-vary": ("spate", "/pc/small.css", {}, "pc/small.css", None),
    "plain-1k": ("spate", "/plain/small.css", {}, "plain/small.css", None),
    "mv-hit": ("spate", "/mv/doc", CHROMIUM, "mv/doc.html", None),
    "mv-plain": ("spate", "/mv/doc.html", CHROMIUM, "mv/doc.html", None),
}

GROUPS = [["css-br-spate", "css-gz-nginx", "css-gz-spate", "css-gzs-spate"],
          ["neg-hit", "plain-S", "identity-vary", "plain-1k"], ["mv-hit", "mv-plain"]]

RATIOS = [
    ("100 KiB CSS: spate .br vs nginx .gz (target <= 0.6)", "css-br-spate", "css-gz-nginx"),
    ("100 KiB CSS: spate .gz vs nginx .gz (like for like)", "css-gz-spate", "css-gz-nginx"),
    ("100 KiB CSS: spate gzip_static vs nginx gzip_static (same request)", "css-gzs-spate",
     "css-gz-nginx"),
    ("100 KiB CSS: spate .br vs spate .gz", "css-br-spate", "css-gz-spate"),
    ("negotiated .br hit vs plain file of its size (target <= 1.05)", "neg-hit", "plain-S"),
    ("precompressed on, no Accept-Encoding vs off (1 KiB)", "identity-vary", "plain-1k"),
    ("MultiViews /mv/doc (Chromium's Accept) vs /mv/doc.html", "mv-hit", "mv-plain"),
]


# ---------------------------------------------------------------- one run

def get(port, path, headers):
    """One keep-alive request as wrk sends it: (status, headers {lower: value}, body, bytes of
    the response on the wire)."""
    req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (path, port)
    req += "".join("%s: %s\r\n" % kv for kv in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = int(hdrs.get("content-length", "0"))
        while len(body) < want:
            b = s.recv(65536)
            if not b:
                break
            body += b
    return int(lines[0].split()[1]), hdrs, body, len(head) + 4 + len(body)


def wrk(args, port, path, headers, seconds):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % args.conns, "-d%ds" % seconds]
    for kv in headers.items():
        cmd += ["-H", "%s: %s" % kv]
    cmd += ["-s", args.wrk_lua]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    m = re.search(r"^BENCHJSON (\{.*\})$", out, re.M)
    if not m:
        raise RuntimeError("wrk printed no summary: %s" % out.strip()[-300:])
    j = json.loads(m.group(1))
    return j["requests"], j["err_status"], sum(j[k] for k in (
        "err_connect", "err_read", "err_write", "err_timeout")), j["p99_us"], j["bytes"], cli


def run_one(args, tmp, doc, name):
    server, path, hdrs_out, expect, coding = CASES[name]
    port = free_port()
    if server == "nginx":
        # configured as every benchmark here configures it, serving the .gz files beside
        argv = servers.nginx_conf(tmp, port, doc, "gzip_static on; gzip_vary on; location / { }")
    else:
        cpath = os.path.join(tmp, "spate-%d.conf" % port)
        argv = [args.bin, "-c", cpath]
        with open(cpath, "w") as f:
            f.write(spate_conf(port, doc))
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "%s-%d.err" % (name, port)), "w"),
                            start_new_session=True)
    flags = []
    try:
        wait_port(port, proc, timeout=30)
        st, hdrs, body, wire = get(port, path, hdrs_out)
        with open(os.path.join(doc, expect), "rb") as f:
            want = f.read()
        if st != 200 or body != want or hdrs.get("content-encoding") != coding:
            flags.append("check:%s=%d,%dB,ce=%s" % (path, st, len(body),
                                                    hdrs.get("content-encoding")))
        wrk(args, port, path, hdrs_out, args.warmup)
        time.sleep(0.1)
        s0, c0 = cpu_stat(), group_cpu(proc.pid)
        t0 = time.monotonic()
        n, bad, errs, p99, nbytes, cli = wrk(args, port, path, hdrs_out, args.seconds)
        wall = time.monotonic() - t0
        time.sleep(0.1)  # the server closes the client's connections
        s1, c1 = cpu_stat(), group_cpu(proc.pid)
        if proc.poll() is not None:
            flags.append("server-died")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    if bad:
        flags.append("non2xx=%d" % bad)
    if errs:
        flags.append("sockerr=%d" % errs)
    srv = c1 - c0
    other0 = max(0.0, pct(s0, s1, 0, 0) - 100.0 * srv / wall)
    other1 = max(0.0, pct(s0, s1, 1, 0) - 100.0 * cli / wall)
    return {"case": name, "rps": n / args.seconds, "requests": n,
            "cpu_us_per_req": srv * 1e6 / max(n, 1), "srv_cpu_pct": 100.0 * srv / wall,
            "cli_cpu_pct": 100.0 * cli / wall, "other_pct": max(other0, other1),
            "steal_pct": max(pct(s0, s1, 0, 1), pct(s0, s1, 1, 1)),
            "p99_ms": p99 / 1000.0 if p99 is not None else None,
            "wire_bytes": wire, "wrk_bytes_per_resp": nbytes / n if nbytes and n else None,
            "headers": hdrs, "flags": flags}


# ---------------------------------------------------------------- report

def summarize(runs, names):
    med = {}
    for c in names:
        rs = [r for r in runs if r["case"] == c]
        if not rs:
            continue
        rps = [r["rps"] for r in rs]
        wb = [r["wrk_bytes_per_resp"] for r in rs if r["wrk_bytes_per_resp"]]
        med[c] = {"rps": statistics.median(rps),
                  "rps_spread_pct": 50.0 * (max(rps) - min(rps)) / max(statistics.median(rps), 1),
                  "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in rs),
                  "cpu_min": min(r["cpu_us_per_req"] for r in rs),
                  "cpu_max": max(r["cpu_us_per_req"] for r in rs),
                  "srv_cpu_pct": statistics.median(r["srv_cpu_pct"] for r in rs),
                  "cli_cpu_pct": statistics.median(r["cli_cpu_pct"] for r in rs),
                  "other_pct": statistics.median(r["other_pct"] for r in rs),
                  "steal_pct": statistics.median(r["steal_pct"] for r in rs),
                  "wire_bytes": rs[0]["wire_bytes"],
                  "wrk_bytes_per_resp": statistics.median(wb) if wb else None,
                  "p99_ms": statistics.median(r["p99_ms"] for r in rs if r["p99_ms"] is not None)
                  if any(r["p99_ms"] is not None for r in rs) else None,
                  "rounds": len(rs),
                  "flags": sorted({f for r in rs for f in r["flags"]})}
    ratios = []
    for label, a, b in RATIOS:
        if a not in med or b not in med:
            continue
        # the pair ran next to each other in every round: the median of the per-round ratios
        # is less exposed to the machine's slow phases than the ratio of medians
        per = []
        for rnd in sorted({r["round"] for r in runs}):
            ra = [r for r in runs if r["case"] == a and r["round"] == rnd]
            rb = [r for r in runs if r["case"] == b and r["round"] == rnd]
            if ra and rb:
                per.append(ra[0]["cpu_us_per_req"] / rb[0]["cpu_us_per_req"])
        ratios.append({"what": label, "a": a, "b": b,
                       "rps": med[a]["rps"] / med[b]["rps"],
                       "cpu_per_req": med[a]["cpu_us_per_req"] / med[b]["cpu_us_per_req"],
                       "cpu_per_req_paired": statistics.median(per) if per else None,
                       "cpu_per_req_paired_min": min(per) if per else None,
                       "cpu_per_req_paired_max": max(per) if per else None})
    return med, ratios


def print_report(med, ratios, args, sizes):
    print("| case | req/s | ± | bytes/response | srv CPU µs/req (min-max) | srv CPU | client CPU "
          "| other | steal | p99 ms | flags |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, m in med.items():
        print("| %s | %s | %.1f%% | %s | %.2f (%.2f-%.2f) | %.0f%% | %.0f%% | %.0f%% | %.1f%% "
              "| %s | %s |" % (
                  c, format(round(m["rps"]), ","), m["rps_spread_pct"],
                  format(m["wire_bytes"], ","), m["cpu_us_per_req"], m["cpu_min"], m["cpu_max"],
                  m["srv_cpu_pct"], m["cli_cpu_pct"], m["other_pct"], m["steal_pct"],
                  "%.2f" % m["p99_ms"] if m["p99_ms"] is not None else "-",
                  ";".join(m["flags"]) or "-"))
    print()
    print("| ratio | req/s (of medians) | CPU µs/req (of medians) | CPU µs/req (median of "
          "per-round ratios, min-max) |")
    print("|---|---|---|---|")
    for r in ratios:
        print("| %s (%s / %s) | %.3f | %.3f | %.3f (%.3f-%.3f) |" % (
            r["what"], r["a"], r["b"], r["rps"], r["cpu_per_req"], r["cpu_per_req_paired"],
            r["cpu_per_req_paired_min"], r["cpu_per_req_paired_max"]))
    print()
    print("Files: " + ", ".join("%s %s" % (k, format(v, ",")) for k, v in sorted(sizes.items())))
    print("%d rounds x (%d s warm-up + %d s), %d connections, medians; ± is half the req/s "
          "range over rounds; bytes/response: status line, headers and body of one response "
          "(keep-alive, the same request); other = busy CPU on the two cores not explained by "
          "server and client; steal = the larger of the two cores' steal time." % (
              args.rounds, args.warmup, args.seconds, args.conns))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--cases", default="", help="comma-separated subset of the cases")
    ap.add_argument("--json", help="write every run, the medians and the ratios here")
    args = ap.parse_args()
    for tool in ("wrk", "brotli", "zstd", "gzip"):
        if not shutil.which(tool):
            raise SystemExit("precompbench: %s not installed (tools/deps bench, tools/deps test)"
                             % tool)
    names = args.cases.split(",") if args.cases else list(CASES)
    for c in names:
        if c not in CASES:
            raise SystemExit("precompbench: no case %r (have: %s)" % (c, ", ".join(CASES)))
    if not shutil.which("nginx"):
        print("precompbench: nginx not installed: its cases left out", file=sys.stderr)
        names = [c for c in names if CASES[c][0] != "nginx"]
    tmp = tempfile.mkdtemp(prefix="precompbench-")
    args.wrk_lua = wrk_script(tmp, 1)
    os.chmod(tmp, 0o755)  # started as root, spate serves as nobody: it must enter
    runs = []
    try:
        doc = os.path.join(tmp, "www")
        sizes = make_tree(doc)
        groups = [[c for c in g if c in names] for g in GROUPS]
        groups = [g for g in groups if g] + [[c] for c in names
                                             if not any(c in g for g in GROUPS)]
        for r in range(args.rounds):
            # rotate the groups, and the cases within each group, round by round
            k = r % len(groups)
            order = []
            for g in groups[k:] + groups[:k]:
                j = r % len(g)
                order += g[j:] + g[:j]
            for name in order:
                res = run_one(args, tmp, doc, name)
                res["round"] = r + 1
                runs.append(res)
                print("round %d %-14s %9.0f req/s %6.2f us/req %6d B  srv %3.0f%% cli %3.0f%% "
                      "other %3.0f%% steal %4.1f%% %s" % (
                          r + 1, name, res["rps"], res["cpu_us_per_req"], res["wire_bytes"],
                          res["srv_cpu_pct"], res["cli_cpu_pct"], res["other_pct"],
                          res["steal_pct"], ";".join(res["flags"])),
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med, ratios = summarize(runs, names)
    print_report(med, ratios, args, sizes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bin": args.bin, "rounds": args.rounds, "seconds": args.seconds,
                       "conns": args.conns, "sizes": sizes,
                       "loadavg_end": open("/proc/loadavg").read().split()[:3],
                       "runs": runs, "medians": med, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
