#!/bin/sh
# A CGI script run by fcgiwrap.
printf 'Content-Type: text/plain\r\n\r\n'
echo "hello from sh: $REQUEST_METHOD $QUERY_STRING $SCRIPT_NAME"
