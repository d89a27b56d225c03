#!/usr/bin/env python3
# Its argv, cwd and open descriptors.
import os
import sys

print("Content-Type: text/plain")
print()
print("argv=%s" % sys.argv)
print("cwd=%s" % os.getcwd())
print("fds=%s" % sorted(int(f) for f in os.listdir("/proc/self/fd")))
