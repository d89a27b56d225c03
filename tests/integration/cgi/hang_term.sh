#!/bin/sh
# Never answers, and ignores SIGTERM (only SIGKILL ends it, and its child).
trap '' TERM
sleep 600
exit 0
