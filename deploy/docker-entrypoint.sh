#!/bin/sh
# The container's entrypoint: `mockserver serve` with the arguments given to `docker run IMAGE ...`.
# A folder mounted at /scenarios that holds scenario files is served instead of the bundled scenarios, unless
# MOCKSERVER_SCENARIOS (or --scenarios) says otherwise.
set -eu
if [ -z "${MOCKSERVER_SCENARIOS:-}" ] && [ -d /scenarios ] \
   && [ -n "$(find /scenarios \( -name '*.yaml' -o -name '*.yml' \) -print 2>/dev/null | head -n 1)" ]; then
    export MOCKSERVER_SCENARIOS=/scenarios
fi
exec mockserver serve "$@"
