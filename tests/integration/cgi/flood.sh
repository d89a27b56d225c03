#!/bin/sh
# A head, then output without end.
printf 'Content-Type: text/plain\n\n'
exec yes flood
