#!/bin/sh
# hist_variants.sh off|hist|reports|on PORT ROOT (bench/RESULTS.md, issue 15): a compare.sh server command
# spate ($SPATE_BIN, else build-rel/spate) with histograms and reports off, histograms
# only, histograms + metrics + status (reports), or those + location_latency on / (on); the
# last two also serve metrics on 127.0.0.1:19146 (reports) and 19145 (on), or $HIST_SIDE_PORT
# (two builds' variants side by side in one run)
v=$1; port=$2; root=$3
conf=${TMPDIR:-/tmp}/$v.$port.conf
case $v in
  off)  main=""; extra=""; side="" ;;
  hist) main="latency_histograms on;"; extra=""; side="" ;;
  reports) main="latency_histograms on;"
        extra="location = /metrics { metrics; } location = /status { status; }"
        side="server { listen 127.0.0.1:${HIST_SIDE_PORT:-19146}; root /tmp; location = /metrics { metrics; } location = /status { status; } }" ;;
  on)   main="latency_histograms on;"
        extra="location = /metrics { metrics; } location = /status { status; } location / { location_latency on; }"
        side="server { listen 127.0.0.1:${HIST_SIDE_PORT:-19145}; root /tmp; location = /metrics { metrics; } location = /status { status; } }" ;;
esac
cat > $conf <<EOC
workers 1;
user root;
error_log ${TMPDIR:-/tmp}/error.log warn;
http {
  $main
  server { listen 127.0.0.1:$port; root $root; $extra }
  $side
}
EOC
exec ${SPATE_BIN:-build-rel/spate} -c $conf
