#!/usr/bin/env python3
"""idle_clients.py PORT N [HOST] - opens N TCP connections to HOST:PORT (default 127.0.0.1),
sends nothing, and holds them until killed. Used to run a comparison with an idle crowd:

  bench/e2e/compare.py --servers spate --server spate-idle='sh -c "build-rel/spate --root {ROOT}
      --listen 127.0.0.1:{PORT} --workers 1 & sleep 0.3;
      python3 bench/e2e/idle_clients.py {PORT} 5000 & wait"' --scenarios small
"""
import resource
import signal
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
deadline = time.monotonic() + 20
while len(held) < n and time.monotonic() < deadline:
    try:
        held.append(socket.create_connection((host, port), timeout=5))
    except OSError:
        time.sleep(0.05)
print("idle_clients: holding %d connections to %s:%d" % (len(held), host, port), file=sys.stderr)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(3600)
