#!/bin/sh
# Says it runs (a file in $TEST_DIR), then takes its time.
touch "$TEST_DIR/started.$$"
sleep 30
printf 'Content-Type: text/plain\n\nlate\n'
