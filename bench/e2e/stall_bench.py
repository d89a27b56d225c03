#!/usr/bin/env python3
"""stall_bench.py - coordinated omission, measured: the real spate stopped for a known time in
the middle of a run at a fixed rate, seen by spate-load (open loop, latency from each request's
intended send time) and by wrk (closed loop, latency from when it got round to sending).

  bench/e2e/stall_bench.py [--rate 10000] [--stall-ms 100] [--seconds 4] [--conns 64]

spate (Release, one worker) is pinned to CPU 0 and the client to CPU 1; --seconds/2 into each
run this script sends spate SIGSTOP, sleeps --stall-ms, and sends SIGCONT: nothing the server
does meanwhile, so the stall is exactly that long on every machine. With requests intended at
--rate throughout, those intended during the stall's first half wait more than half the stall:
rate x stall / 2 of them (500 at 10,000 req/s and 100 ms), and rate x stall (1,000) wait at
all. wrk runs at its own pace (it has no rate), so it sees at most one delayed request per
connection. Reported for both: the requests above half the stall, p99, p99.9, max. wrk's count
comes from its percentiles (the smallest percentile above half the stall, in steps of 0.001%).
Needs wrk and a Release build (build-rel/spate, build-rel/tools/load/spate-load).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

# wrk's done(): the total, p99, p99.9, max and the share of requests above HALF_US
WRK_LUA = """local half = %d
function done(s, lat, _)
  local p = 100.0
  while p > 90 and lat:percentile(p - 0.001) > half do p = p - 0.001 end
  io.write(string.format("WRKJSON {\\"requests\\": %%d, \\"p99\\": %%d, \\"p99.9\\": %%d, " ..
    "\\"max\\": %%d, \\"above_share\\": %%.5f, \\"errors\\": %%d}\\n", s.requests,
    lat:percentile(99), lat:percentile(99.9), lat.max, (100.0 - p) / 100.0,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout + s.errors.status))
end
"""


def stall_later(pid, at, ms):
    def go():
        time.sleep(at)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(ms / 1000.0)
        os.kill(pid, signal.SIGCONT)
    t = threading.Thread(target=go)
    t.start()
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--stall-ms", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--spate", default=os.path.join(servers.ROOT, "build-rel", "spate"))
    ap.add_argument("--load", default=os.path.join(servers.ROOT, "build-rel", "tools", "load",
                                                   "spate-load"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="stallbench-")
    os.chmod(tmp, 0o755)
    doc = os.path.join(tmp, "www")
    os.makedirs(doc)
    os.chmod(doc, 0o755)
    with open(os.path.join(doc, "small.bin"), "wb") as f:
        f.write(os.urandom(1024))
    half_ns = a.stall_ms * 1e6 / 2
    rows = []
    port = servers.free_port()
    with servers.Server(servers.spate_cmd(a.spate, port, doc), port) as srv:
        url = "http://127.0.0.1:%d/small.bin" % port
        out = os.path.join(tmp, "load.json")
        t = stall_later(srv.pid, a.seconds / 2, a.stall_ms)
        subprocess.run([a.load, "-t1", "--cpus", str(servers.CLIENT_CPU), "-c%d" % a.conns,
                        "-d%ds" % a.seconds, "-R", str(a.rate), "--json", out, url],
                       check=True, capture_output=True)
        t.join()
        with open(out) as f:
            j = json.load(f)
        lat = j["latency_us"]
        rows.append(("spate-load -R %d" % a.rate, j["requests"], j["rate"],
                     sum(n for lo, _hi, n in j["histogram"] if lo > half_ns),
                     lat["p99"], lat["p99.9"], lat["max"]))
        script = os.path.join(tmp, "stall.lua")
        with open(script, "w") as f:
            f.write(WRK_LUA % (half_ns / 1000))
        t = stall_later(srv.pid, a.seconds / 2, a.stall_ms)
        p = subprocess.run(["wrk", "-t1", "-c%d" % a.conns, "-d%ds" % a.seconds, "-s", script,
                            url], check=True, capture_output=True, text=True,
                           preexec_fn=servers.pin(servers.CLIENT_CPU))
        t.join()
        w = json.loads(re.search(r"^WRKJSON (\{.*\})$", p.stdout, re.M).group(1))
        rows.append(("wrk (closed loop)", w["requests"], w["requests"] / a.seconds,
                     round(w["above_share"] * w["requests"]), w["p99"], w["p99.9"], w["max"]))
    print("spate stopped (SIGSTOP) for %d ms, %.1f s into a %d s run; -c%d; expected above "
          "%.0f ms for an open loop at %d req/s: about %d\n" % (
              a.stall_ms, a.seconds / 2, a.seconds, a.conns, a.stall_ms / 2, a.rate,
              a.rate * a.stall_ms / 2000))
    print("| client | requests | req/s | above %d ms | p99 us | p99.9 us | max us |" %
          (a.stall_ms // 2))
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %.0f | %d | %.0f | %.0f | %.0f |" % r)


if __name__ == "__main__":
    main()
