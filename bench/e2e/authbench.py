#!/usr/bin/env python3
"""authbench.py - a legitimate client's requests/s on an auth_basic location while another
client floods it with wrong passwords (issue 12, "Passwords": the legitimate client must keep at
least half of its unflooded rate).

One spate (`workers 1;` by default), 127.0.0.1, a location under `auth_basic` whose file holds
bcrypt hashes of cost 10 (`htpasswd -B -C 10`: tens of milliseconds of CPU each) for 20 users.
Each round runs, with a fresh server:

  alone    the legitimate client: wrk -t1 -cC on keep-alive connections, GET /p/x.txt (1 KiB)
           with the right password (a pair the worker remembers after the first request);
  flooded  the same client at the same time as a flood: wrk -t1 -cF, every request with the
           same user and a new wrong password (a counter, base64 in the Lua script), so every
           one needs a hash.

Reported per round: the legitimate client's req/s in both runs and their ratio, the flood's
answers per second by status (401 after its hash; 503 when the worker's line of requests
waiting for a hash is full) and the server's CPU seconds per second (workers and hashing
helpers, utime+stime of its process group, as wrkbench.py counts it). Medians over rounds.
The machine's other load counts: run it on an idle machine, and read the per-round ratios.

  bench/e2e/authbench.py [--bin build/spate] [--rounds 3] [--seconds 5] [--conns 8]
                         [--flood-conns 32] [--workers 1] [--cost 10] [--json out.json]

Needs wrk and htpasswd (tools/deps bench, tools/deps test). Python 3 standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from servers import free_port, group_cpu, wait_port  # noqa: E402  (the same CPU accounting)

USER, PASSWORD = "legit", "correct horse battery"

# the flood: one user, a new wrong password each request (base64 done here: wrk has no library)
FLOOD_LUA = r"""
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({'', '==', '='})[#data % 3 + 1])
end
n = 0
statuses = {}
request = function()
  n = n + 1
  local auth = "Basic " .. b64("%(user)s:wrong-" .. tostring(id) .. "-" .. tostring(n))
  return wrk.format("GET", "/p/x.txt", {["Authorization"] = auth})
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"""

# per-status counts come back through a thread-local table printed at the end
FLOOD_LUA += r"""
local threads = {}
setup = function(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
done = function(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  for k, v in pairs(all) do io.write(string.format("status %d %d\n", k, v)) end
end
"""


def write_tree(tmp, cost):
    doc = os.path.join(tmp, "www")
    os.makedirs(os.path.join(doc, "p"))
    with open(os.path.join(doc, "p", "x.txt"), "wb") as f:
        f.write(b"x" * 1023 + b"\n")
    pw = os.path.join(tmp, "users")
    subprocess.run(["htpasswd", "-cbB", "-C", str(cost), pw, USER, PASSWORD], check=True,
                   capture_output=True)
    for i in range(19):
        subprocess.run(["htpasswd", "-bB", "-C", str(cost), pw, "user%d" % i, "pw%d" % i],
                       check=True, capture_output=True)
    return doc, pw


def spate_conf(tmp, port, doc, pw, workers):
    conf = os.path.join(tmp, "spate.conf")
    user = "user root;\n" if os.geteuid() == 0 and accepts_user_root(tmp) else ""
    with open(conf, "w") as f:
        f.write("%sworkers %d;\nerror_log %s/error.log warn;\n"
                "server {\n  listen 127.0.0.1:%d;\n  root %s;\n"
                "  location /p/ { auth_basic \"bench\"; auth_basic_user_file %s; }\n}\n"
                % (user, workers, tmp, port, doc, pw))
    return conf


_user_root = {}


def accepts_user_root(tmp):
    if "ok" not in _user_root:
        c = os.path.join(tmp, "probe.conf")
        with open(c, "w") as f:
            f.write("user root;\nserver { listen 127.0.0.1:0; root %s; }\n" % tmp)
        r = subprocess.run([ARGS.bin, "-c", c, "-t"], capture_output=True)
        _user_root["ok"] = r.returncode == 0
    return _user_root["ok"]


def b64(s):
    import base64
    return base64.b64encode(s.encode()).decode()


def wrk_legit(port, seconds, conns, out):
    r = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                        "-H", "Authorization: Basic " + b64(USER + ":" + PASSWORD),
                        "http://127.0.0.1:%d/p/x.txt" % port],
                       capture_output=True, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    out["rps"] = float(m.group(1)) if m else 0.0
    out["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    out["raw"] = r.stdout


def wrk_flood(port, seconds, conns, script, out):
    r = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "-s", script,
                        "http://127.0.0.1:%d/p/x.txt" % port],
                       capture_output=True, text=True)
    out["status"] = {int(k): int(v) for k, v in re.findall(r"status (\d+) (\d+)", r.stdout)}
    out["seconds"] = seconds
    out["raw"] = r.stdout


def run_round(tmp, doc, pw, script, flooded):
    port = free_port()
    conf = spate_conf(tmp, port, doc, pw, ARGS.workers)
    proc = subprocess.Popen([ARGS.bin, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port, proc)
        warm = {}
        wrk_legit(port, 1, ARGS.conns, warm)  # the pair is hashed once and remembered
        legit, flood = {}, {}
        cpu0, t0 = group_cpu(proc.pid), time.monotonic()
        threads = [threading.Thread(target=wrk_legit,
                                    args=(port, ARGS.seconds, ARGS.conns, legit))]
        if flooded:
            threads.append(threading.Thread(target=wrk_flood, args=(
                port, ARGS.seconds, ARGS.flood_conns, script, flood)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu = (group_cpu(proc.pid) - cpu0) / (time.monotonic() - t0)
        return {"legit_rps": legit["rps"], "legit_non2xx": legit["non2xx"],
                "flood_status": flood.get("status", {}), "server_cpu_per_s": cpu}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spate"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--flood-conns", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cost", type=int, default=10)
    ap.add_argument("--json")
    ARGS = ap.parse_args()
    for tool in ("wrk", "htpasswd"):
        if not shutil.which(tool):
            raise SystemExit("%s is needed (tools/deps bench, tools/deps test)" % tool)
    tmp = tempfile.mkdtemp(prefix="authbench-")
    os.chmod(tmp, 0o755)
    try:
        doc, pw = write_tree(tmp, ARGS.cost)
        script = os.path.join(tmp, "flood.lua")
        with open(script, "w") as f:
            f.write(FLOOD_LUA.replace("%(user)s", USER))
        rounds = []
        for i in range(ARGS.rounds):
            # alone and flooded next to each other, the order rotating (slow phases)
            order = [False, True] if i % 2 == 0 else [True, False]
            res = {}
            for flooded in order:
                res["flooded" if flooded else "alone"] = run_round(tmp, doc, pw, script,
                                                                   flooded)
            res["ratio"] = (res["flooded"]["legit_rps"] / res["alone"]["legit_rps"]
                            if res["alone"]["legit_rps"] else 0.0)
            rounds.append(res)
            fs = res["flooded"]["flood_status"]
            print("round %d: alone %.0f req/s, flooded %.0f req/s (%.2fx); flood: %s per s; "
                  "server CPU %.2f / %.2f s/s; legit non-2xx %d / %d"
                  % (i + 1, res["alone"]["legit_rps"], res["flooded"]["legit_rps"], res["ratio"],
                     ", ".join("%d: %.0f" % (k, v / ARGS.seconds) for k, v in sorted(fs.items()))
                     or "none", res["alone"]["server_cpu_per_s"],
                     res["flooded"]["server_cpu_per_s"], res["alone"]["legit_non2xx"],
                     res["flooded"]["legit_non2xx"]), flush=True)
        med = {
            "alone_rps": statistics.median(r["alone"]["legit_rps"] for r in rounds),
            "flooded_rps": statistics.median(r["flooded"]["legit_rps"] for r in rounds),
            "ratio": statistics.median(r["ratio"] for r in rounds),
        }
        print("median: alone %.0f req/s, flooded %.0f req/s, ratio %.2f (want >= 0.50)"
              % (med["alone_rps"], med["flooded_rps"], med["ratio"]))
        if ARGS.json:
            with open(ARGS.json, "w") as f:
                json.dump({"args": vars(ARGS), "rounds": rounds, "median": med}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
