#!/bin/sh
# A status of its own and an extra field.
printf 'Status: 404 Not Here\nContent-Type: text/plain\nX-Script: yes\n\nno such thing\n'
