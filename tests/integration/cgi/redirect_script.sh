#!/bin/sh
# A local redirect to another script (which answers, as a GET).
printf 'Location: /cgi-bin/env.sh/x?q=1\n\n'
