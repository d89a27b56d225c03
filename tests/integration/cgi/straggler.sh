#!/bin/sh
# Leaves a child behind in its process group, holding no pipe.
sleep 600 >/dev/null 2>&1 </dev/null &
printf 'Content-Type: text/plain\n\nleft one behind\n'
