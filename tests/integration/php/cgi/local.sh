#!/bin/sh
# A local redirect: spate serves /hello.txt instead.
printf 'Location: /hello.txt\r\n\r\n'
