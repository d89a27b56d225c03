#!/bin/sh
# Head lines without end (no empty line ever comes).
while :; do echo "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; done
