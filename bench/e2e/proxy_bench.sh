#!/bin/bash
# spate vs nginx as reverse proxies of the same backend (nginx serving a 1 KiB file, on CPU 1
# with wrk); the proxy on CPU 0, keep-alive to the upstream in both; server CPU per request
# from /proc/<pid>/stat utime+stime of the proxy's process group. 3 rounds, interleaved.
#   flock /tmp/spate-bench.lock SPATE=build-rel/spate bench/e2e/proxy_bench.sh
set -u
SPATE=${SPATE:-build-rel/spate}
B=/tmp/pxbench
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
BPORT=39101; NPORT=39102; SPORT=39103
mkdir -p $B/tmp $B/ntmp $B/www
[ -f $B/www/1k.bin ] || head -c 1024 /dev/urandom > $B/www/1k.bin
cat > $B/backend.conf <<CONF
worker_processes 1; daemon off; master_process on; pid $B/backend.pid; error_log $B/backend.err warn;
events { worker_connections 16384; use epoll; }
http { access_log off; sendfile on; tcp_nodelay on; keepalive_timeout 65s; keepalive_requests 1000000;
  open_file_cache max=1000; client_body_temp_path $B/tmp/b; proxy_temp_path $B/tmp/p;
  fastcgi_temp_path $B/tmp/f; uwsgi_temp_path $B/tmp/u; scgi_temp_path $B/tmp/s;
  server { listen 127.0.0.1:$BPORT backlog=4096; root $B/www; location / { } } }
CONF
cat > $B/nproxy.conf <<CONF
worker_processes 1; daemon off; master_process on; pid $B/nproxy.pid; error_log $B/nproxy.err warn;
events { worker_connections 16384; use epoll; }
http { access_log off; tcp_nodelay on; keepalive_timeout 65s; keepalive_requests 1000000;
  client_body_temp_path $B/ntmp/b; proxy_temp_path $B/ntmp/p;
  fastcgi_temp_path $B/ntmp/f; uwsgi_temp_path $B/ntmp/u; scgi_temp_path $B/ntmp/s;
  upstream back { server 127.0.0.1:$BPORT; keepalive 64; }
  server { listen 127.0.0.1:$NPORT backlog=4096;
    location / { proxy_pass http://back; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
cat > $B/sproxy.conf <<CONF
workers 1; user root; access_log off; error_log $B/sproxy.err; keepalive_requests 1000000;
upstream back { server 127.0.0.1:$BPORT; keepalive 64; }
server { listen 127.0.0.1:$SPORT; root $B/www;
  location / { proxy_pass http://back; proxy_http_version 1.1; proxy_set_header Connection ""; } }
CONF
cpu_ticks() { # utime+stime of every process in pgid $1
  local t=0
  for p in $(pgrep -g $1); do
    read -r -a f < /proc/$p/stat; t=$((t + f[13] + f[14]))
  done
  echo $t
}
setsid taskset -c 1 nginx -p $B -c $B/backend.conf > $B/backend.out 2>&1 &
BPID=$!
sleep 1
run_one() { # name port cmd...
  local name=$1 port=$2; shift 2
  setsid taskset -c 0 "$@" > $B/$name.out 2>&1 &
  local pid=$!
  sleep 1.5
  curl -s -o /dev/null -w "$name precheck %{http_code} %{size_download}\n" http://127.0.0.1:$port/1k.bin >&2
  taskset -c 1 wrk -t1 -c64 -d2s http://127.0.0.1:$port/1k.bin > /dev/null   # warm-up
  local t0=$(cpu_ticks $pid)
  local out=$(taskset -c 1 wrk -t1 -c64 -d${DUR}s http://127.0.0.1:$port/1k.bin)
  local t1=$(cpu_ticks $pid)
  kill -TERM -$pid; wait $pid 2>/dev/null
  local reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  local us=$(python3 -c "print(round(($t1-$t0)*10000.0/$reqs, 2))")
  echo "$name rps=$rps us_per_req=$us reqs=$reqs non2xx=${non2xx:-0}"
}
for r in $(seq 1 $ROUNDS); do
  if [ $((r % 2)) = 1 ]; then
    run_one nginx $NPORT nginx -p $B -c $B/nproxy.conf
    run_one spate $SPORT $SPATE -c $B/sproxy.conf
  else
    run_one spate $SPORT $SPATE -c $B/sproxy.conf
    run_one nginx $NPORT nginx -p $B -c $B/nproxy.conf
  fi
done
kill -TERM -$BPID; wait $BPID 2>/dev/null
