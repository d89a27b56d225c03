#!/bin/sh
# scrape_metrics.sh SECONDS [PORT] (bench/RESULTS.md, issue 15): GET /metrics on 127.0.0.1:PORT
# (19145) every 100 ms
end=$(( $(date +%s) + $1 )); n=0; ok=0
while [ $(date +%s) -lt $end ]; do
  if curl -s -o /dev/null -m 1 http://127.0.0.1:${2:-19145}/metrics; then ok=$((ok+1)); fi
  n=$((n+1)); sleep 0.1
done
echo "scrapes $n ok $ok"
