#!/bin/sh
# The request body's md5 (read to its end first: fcgiwrap writes the whole body to the
# script before it reads the script's output).
printf 'Content-Type: text/plain\r\n\r\n'
exec md5sum
