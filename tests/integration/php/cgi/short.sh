#!/bin/sh
# Announces 1000 bytes and writes 10: the client must see the body cut.
printf 'Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n'
printf '0123456789'
