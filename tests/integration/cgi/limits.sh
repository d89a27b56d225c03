#!/bin/sh
# Its descriptor and CPU limits.
printf 'Content-Type: text/plain\n\n'
echo "nofile=$(ulimit -n)"
echo "cpu=$(ulimit -t)"
