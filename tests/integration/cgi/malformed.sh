#!/bin/sh
# A head line without a colon.
printf 'Content-Type text/plain\n\nbody\n'
