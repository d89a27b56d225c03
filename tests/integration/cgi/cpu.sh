#!/bin/sh
# Burns CPU without end, before any output.
while :; do :; done
