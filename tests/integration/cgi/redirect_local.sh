#!/bin/sh
# A local redirect: the server serves this URI instead.
printf 'Location: /hello.txt\n\n'
