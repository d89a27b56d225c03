#!/bin/sh
# A body of a given length.
printf 'Content-Type: text/plain\nContent-Length: 6\n\nhello\n'
