#!/bin/sh
# 300 lines on stderr, then an answer.
i=0
while [ $i -lt 300 ]; do echo "chatty line $i" >&2; i=$((i + 1)); done
printf 'Content-Type: text/plain\n\ndone\n'
