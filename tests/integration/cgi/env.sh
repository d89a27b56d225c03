#!/bin/sh
# Prints its whole environment as the body: one NAME=VALUE a line.
printf 'Content-Type: text/plain\n\n'
env
