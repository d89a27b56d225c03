#!/bin/sh
# Complains on stderr and fails without a head.
echo "cgi-test-complaint: something broke" >&2
exit 3
