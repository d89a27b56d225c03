#!/bin/sh
# A local redirect, then output without end (read and dropped, then the script is killed).
printf 'Location: /hello.txt\n\n'
exec yes flood
