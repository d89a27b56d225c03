#!/bin/sh
printf "Content-Type: text/plain\n\nran\n"
