#!/bin/sh
# Dies of a signal before any output.
kill -SEGV $$
