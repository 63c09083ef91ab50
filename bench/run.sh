#!/usr/bin/env bash
# Measure mockserver with the shared load and timing suite, in the same run as its bare-aiohttp baselines.
#
#   bench/run.sh PATH/TO/BENCH_SUITE [run_all.py options...]
#   bench/run.sh ../shared/bench --repeats 3 --out /tmp/bench-out
#
# The suite is copied to a temporary folder, a "mockserver" target is added next to its baselines (serving
# bench/scenarios.yaml with the interpreter in $PYTHON, default .venv/bin/python), and run_all.py runs
# baseline-aiohttp, baseline-aiohttp-coalesce and mockserver. Quote mockserver as a ratio of the baselines:
# absolute numbers move from run to run on a shared machine. W1 needs wrk (apt-get install wrk).
set -euo pipefail
suite=${1:?usage: bench/run.sh PATH/TO/BENCH_SUITE [run_all.py options...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../.venv/bin/python}
python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")
work=$(mktemp -d /tmp/mockserver-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$suite"/. "$work"/
chmod -R u+w "$work"
"$python" - "$work/targets/mockserver.json" "$python" "$here/scenarios.yaml" "${MOCKSERVER_LOG_LEVEL:-info}" <<'PY'
import json, sys
path, python, scenarios, level = sys.argv[1:]
json.dump({
    "name": "mockserver",
    "description": f"mockserver serve, bench/scenarios.yaml, log level {level}",
    "install": [],
    "version_cmd": [python, "-m", "mockserver", "--version"],
    "cmd": [python, "-m", "mockserver", "serve", "--port", "{port}", "--scenarios", scenarios, "--log-level", level],
    "base_path": "/v1",
    "workloads": {"w1": {}, "w2": {}, "w3": {}, "w4": {}},
}, open(path, "w"), indent=1)
PY
targets=${BENCH_TARGETS:-baseline-aiohttp,baseline-aiohttp-coalesce,mockserver}
python3 "$work/run_all.py" --targets "$targets" --install "$@"
