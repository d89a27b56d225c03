#!/bin/sh
# A local redirect to another script (not supported: 500, and said so in the log).
printf 'Location: /cgi-bin/env.sh\n\n'
