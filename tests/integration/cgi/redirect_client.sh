#!/bin/sh
# A client redirect: 302 to an absolute URI.
printf 'Location: http://example.com/elsewhere\r\n\r\n'
