#!/usr/bin/env bash
# The short fuzz run CI does: every target for 10 seconds.
exec "$(dirname "$0")/run.sh" "${FUZZTIME:-10s}"
