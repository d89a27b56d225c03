#!/bin/sh
# Never answers.
sleep 600
