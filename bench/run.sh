#!/usr/bin/env bash
# The whole benchmark in one run: the shared load and timing suite (W1-W4) against mockserver, its two bare-aiohttp
# baselines and aimock (the fastest peer); W3 again at 10,000 open streams; W5, the agent loop, against mockserver
# and its bare-aiohttp baseline. Then the ratios the performance targets name, each with PASS or MISS.
#
#   bench/run.sh PATH/TO/BENCH_SUITE [options] [run_all.py options...]
#   bench/run.sh path/to/bench-suite --repeats 1 --out /tmp/bench-out   # a full run, one fresh server per workload
#   bench/run.sh path/to/bench-suite --quick                            # a smoke run: small loads, one round
#
# Options (everything else goes to the suite's run_all.py as it is):
#   --targets A,B,..    suite targets (default baseline-aiohttp,baseline-aiohttp-coalesce,same-bytes,aimock,mockserver,
#                       or $BENCH_TARGETS); mockserver-asyncio is mockserver on the plain asyncio loop; same-bytes is
#                       the coalescing baseline sending mockserver's own bytes and headers (W1, W4; bench/same_bytes.py)
#   --workloads W,..    any of w1,w2,w3,w4,w5 (default all)
#   --repeats N         fresh-server runs per target and workload; medians are reported (default 3)
#   --out DIR           where every raw result of the run goes (default bench/results/<timestamp>)
#   --prefix DIR        where the peers are installed (default $BENCH_PREFIX or ~/.cache/mockserver-bench)
#   --w3-big N          the second W3 pass's open streams (default 10000; 0 skips it)
#   --quick             small loads and one round, to see that everything runs
#   --publish           then write the results into docs/benchmarks.md, docs/benchmarks/results and the charts
#
# The peers (aiohttp in a venv, aimock with npm) are installed under the prefix when missing (--install
# reinstalls). mockserver is served from bench/scenarios.yaml by $PYTHON (default .venv/bin/python) at log level
# $MOCKSERVER_LOG_LEVEL (default info). W1 needs wrk (apt-get install wrk), aimock needs node and npm.
# Results: OUT/suite (W1-W4, run_all.py's layout), OUT/w3-big, OUT/w5, OUT/report.txt; bench/report.py OUT
# prints the ratios again, bench/charts.py OUT DIR draws the charts.
set -euo pipefail
suite=${1:?usage: bench/run.sh PATH/TO/BENCH_SUITE [options] [run_all.py options...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../.venv/bin/python}
python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")
level=${MOCKSERVER_LOG_LEVEL:-info}
targets=${BENCH_TARGETS:-baseline-aiohttp,baseline-aiohttp-coalesce,same-bytes,aimock,mockserver}
workloads=w1,w2,w3,w4,w5
repeats=3
quick=0
publish=0
big=10000
out=$here/results/$(date +%Y%m%d-%H%M%S)
prefix=${BENCH_PREFIX:-$HOME/.cache/mockserver-bench}
install=()
passthrough=()
while (($#)); do
  arg=$1
  shift
  if [[ $arg == --*=* ]]; then set -- "${arg#*=}" "$@"; arg=${arg%%=*}; fi
  case $arg in
    --targets) targets=$1; shift ;;
    --workloads) workloads=$1; shift ;;
    --repeats) repeats=$1; shift ;;
    --out) out=$1; shift ;;
    --prefix) prefix=$1; shift ;;
    --w3-big) big=$1; shift ;;
    --quick) quick=1 ;;
    --publish) publish=1 ;;
    --install) install=(--install) ;;
    *) passthrough+=("$arg") ;;
  esac
done
has() { [[ ",$1," == *",$2,"* ]]; }
only() { # the names of list $1 that are also in list $2
  local name kept=()
  IFS=, read -ra names <<<"$1"
  for name in "${names[@]}"; do has "$2" "$name" && kept+=("$name"); done
  (IFS=,; echo "${kept[*]}")
}
mkdir -p "$out" "$prefix"
out=$(cd "$out" && pwd)
prefix=$(cd "$prefix" && pwd)
if [ ${#install[@]} -eq 0 ] && { [ ! -x "$prefix/benchvenv/bin/python" ] ||
  [ ! -f "$prefix/npm-aimock/node_modules/@copilotkit/aimock/package.json" ]; }; then
  install=(--install)
fi

work=$(mktemp -d /tmp/mockserver-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$suite"/. "$work"/
chmod -R u+w "$work"
rm -rf "$work/results"
"$python" - "$work/targets" "$python" "$here/scenarios.yaml" "$level" "$here" <<'PY'
import json, sys
folder, python, scenarios, level, here = sys.argv[1:]
version = ("import importlib.util, aiohttp, mockserver; print('mockserver', mockserver.__version__, '/ aiohttp', "
           "aiohttp.__version__, '/ loop', 'uvloop' if importlib.util.find_spec('uvloop') else 'asyncio')")
serve = [python, "-m", "mockserver", "serve", "--port", "{port}", "--scenarios", scenarios, "--log-level", level]
for name, loop in (("mockserver", []), ("mockserver-asyncio", ["--loop", "asyncio"])):
    json.dump({
        "name": name,
        "description": f"mockserver serve, bench/scenarios.yaml, log level {level} {' '.join(loop)}".strip(),
        "install": [],
        "version_cmd": [python, "-c", version.replace("'uvloop' if", "'asyncio' if") if loop else version],
        "cmd": serve + loop,
        "base_path": "/v1",
        "workloads": {"w1": {}, "w2": {}, "w3": {}, "w4": {}},
    }, open(f"{folder}/{name}.json", "w"), indent=1)
json.dump({
    "name": "same-bytes",
    "description": "bare aiohttp, coalesced writes of mockserver's own bytes and headers (bench/same_bytes.py)",
    "install": [],
    "version_cmd": [python, "-c", "import aiohttp; print('aiohttp', aiohttp.__version__)"],
    "cmd": [python, here + "/same_bytes.py", "--port", "{port}", "--scenarios", scenarios],
    "base_path": "/v1",
    "workloads": {"w1": {}, "w4": {}},
}, open(f"{folder}/same-bytes.json", "w"), indent=1)
PY

status=0
started=$(date +%s)
suite_targets=$(only "$targets" "$(cd "$work/targets" && ls ./*.json | sed 's|^\./||; s|\.json$||' | paste -sd,)")
suite_workloads=$(only "$workloads" w1,w2,w3,w4)
IFS=, read -ra wanted <<<"$targets"
for name in "${wanted[@]}"; do
  has "$suite_targets,w5-baseline" "$name" || echo "warning: no target $name in the suite (targets/$name.json)" >&2
done
quick_args=()
[ "$quick" = 1 ] && quick_args=(--quick)
if [ -n "$suite_targets" ] && [ -n "$suite_workloads" ]; then
  python3 "$work/run_all.py" --targets "$suite_targets" --workloads "$suite_workloads" --repeats "$repeats" \
    --prefix "$prefix" --out "$out/suite" "${install[@]}" "${quick_args[@]}" "${passthrough[@]}" || status=$?
  install=()
fi

# W3 again with many more streams open at once, for the targets that hold them all (each side of a stream has a
# descriptor: the server and the load script each need one per stream).
big_targets=$(only "$targets" baseline-aiohttp,aimock,mockserver,mockserver-asyncio)
[ "$quick" = 1 ] && [ "$big" -gt 1000 ] && big=1000
if has "$workloads" w3 && [ "$big" -gt 0 ] && [ -n "$big_targets" ]; then
  want=$((big + 1024))
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  fi
  [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ] &&
    echo "warning: at most $(ulimit -n) open files (ulimit -Hn): W3 at $big streams may fail" >&2
  big_repeats=$repeats
  [ "$quick" = 1 ] && big_repeats=1
  python3 "$work/run_all.py" --targets "$big_targets" --workloads w3 --repeats "$big_repeats" --prefix "$prefix" \
    --out "$out/w3-big" --w3-streams "$big" "${install[@]}" || status=$?
  install=()
fi

# W5, the agent loop, against mockserver and the bare-aiohttp server that answers the same four turns.
w5_targets=$(only "$targets" mockserver,mockserver-asyncio)
if has "$workloads" w5 && [ -n "$w5_targets" ]; then
  baseline_python=$prefix/benchvenv/bin/python
  [ -x "$baseline_python" ] || baseline_python=$python
  python3 "$here/run_w5.py" --out "$out/w5" --targets "$w5_targets,w5-baseline" --repeats "$repeats" \
    --python "$python" --baseline-python "$baseline_python" --log-level "$level" "${quick_args[@]}" || status=$?
fi

echo "# wall time of the run: $(($(date +%s) - started)) s" | tee "$out/wall-time.txt"
python3 "$here/report.py" "$out" | tee "$out/report.txt" || status=$?
python3 "$here/charts.py" "$out" "$out/charts" || status=$?
if [ "$publish" = 1 ]; then
  docs=$(cd "$here/.." && pwd)/docs
  python3 "$here/report.py" "$out" --doc "$docs/benchmarks.md" --save "$docs/benchmarks/results" >/dev/null || status=$?
  python3 "$here/charts.py" "$docs/benchmarks/results" "$docs/benchmarks" || status=$?
fi
exit "$status"
