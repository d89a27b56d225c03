#!/usr/bin/env python3
# Reads all of stdin; answers its length and SHA-256.
import hashlib
import sys

data = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: text/plain\r\nX-Length: %d\r\n\r\n" % len(data))
sys.stdout.write(hashlib.sha256(data).hexdigest() + "\n")
