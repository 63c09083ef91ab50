#!/usr/bin/env bash
# The container image as a user runs it: build it from the Dockerfile on a private Docker engine, then check
# that it streams (curl and the openai SDK), runs as non-root, serves a folder mounted at /scenarios, and stops
# promptly and cleanly on SIGTERM.
#
# Needs root on Debian: it installs docker.io and debootstrap when missing and starts its own dockerd, which
# touches neither the host's network setup nor any other engine. No registry is needed: the base image is made
# with debootstrap from the machine's apt mirror and kept in $BASE_CACHE for the next run. Everything it
# starts is removed on exit, on failure too.
#
#   tests/container/smoke.sh          (.ci/run calls it after pytest)
set -euo pipefail
set -o errtrace  # the ERR trap below fires inside functions too

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}  # the project's venv, with the openai SDK
BASE_CACHE=${BASE_CACHE:-/var/cache/ci-docker/python-base-bookworm.tar}
BASE=local/python-base:bookworm
IMAGE=mockserver:smoke
# Debian's client: its built-in BuildKit handles --secret and RUN --mount. A newer client earlier on PATH may
# lack the buildx plugin and fall back to the legacy builder.
DOCKER=/usr/bin/docker
CA_BUNDLE=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
START=$SECONDS

say() { echo "smoke: $* [$((SECONDS - START)) s]"; }
fail() {
  echo "smoke: FAIL: $*" >&2
  exit 1
}
trap 'echo "smoke: FAIL: line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

[ "$(id -u)" = 0 ] || fail "must run as root, to start a Docker engine: the container image was NOT tested"
[ -x "$PYTHON" ] || fail "no $PYTHON: create the project's venv first (pip install -e '.[test]')"

WORK=$(mktemp -d /tmp/ci-docker.XXXXXX)
export DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=1
DOCKERD_PID=

cleanup() {
  local rc=$? pid mount
  set +e
  trap - ERR
  if [ -n "$DOCKERD_PID" ]; then
    # Every container of this private engine is one of ours.
    $DOCKER ps -aq 2>/dev/null | xargs -r $DOCKER rm -f >/dev/null 2>&1
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 80); do
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
    # A dockerd that had to be killed leaves its containerd running.
    pid=$(cat "$WORK/exec/containerd/containerd.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
  fi
  # dockerd leaves its netns mount behind (an interrupted debootstrap its /proc and /sys): unmount, deepest
  # first, before removing the folder.
  awk -v work="$WORK/" 'index($2, work) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount"
  done
  rmdir /run/docker/plugins /run/docker 2>/dev/null  # made outside the exec root; removed only if empty
  rm -rf "$WORK"
  rm -f "$BASE_CACHE.$$.tmp"
  [ "$rc" = 0 ] && say "passed" || echo "smoke: FAILED (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ] || [ ! -x /usr/sbin/debootstrap ]; then
  say "installing docker.io and debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io debootstrap; } \
    >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; fail "cannot install docker.io and debootstrap"; }
fi

# No bridge, no iptables, no ip_forward: the engine leaves the host's network as it was, so builds and
# containers use the host's network (--network host).
/usr/sbin/dockerd --host "$DOCKER_HOST" --data-root "$WORK/data" --exec-root "$WORK/exec" \
  --pidfile "$WORK/dockerd.pid" --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
  --storage-driver=overlay2 >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 120); do
  $DOCKER info >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || break
  sleep 0.25
done
if ! $DOCKER info >/dev/null 2>&1; then
  tail -n 30 "$WORK/dockerd.log" >&2
  echo "smoke: ################################################################" >&2
  echo "smoke: the Docker engine could not be started (its log is above)" >&2
  echo "smoke: ################################################################" >&2
  fail "the container image was NOT tested"
fi
say "engine up"

if [ ! -s "$BASE_CACHE" ]; then
  say "making the base image with debootstrap (kept in $BASE_CACHE for the next run)"
  # The Debian mirror the machine's apt sources already use.
  mirror=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || fail "no Debian mirror in the apt sources"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap from $mirror failed"; }
  chroot "$WORK/rootfs" apt-get clean
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"*
  mkdir -p "$(dirname "$BASE_CACHE")"
  # Written aside and renamed: an interrupted run never leaves a partial cache.
  tar --numeric-owner -C "$WORK/rootfs" -cf "$BASE_CACHE.$$.tmp" . || fail "cannot write $BASE_CACHE"
  mv "$BASE_CACHE.$$.tmp" "$BASE_CACHE"
  rm -rf "$WORK/rootfs"
fi
$DOCKER import -c 'ENV LANG=C.UTF-8' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$BASE_CACHE" "$BASE" >/dev/null \
  || { rm -f "$BASE_CACHE"; fail "cannot import $BASE_CACHE (removed: the next run makes it again)"; }
say "base image ready"

secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=pip_cert,src=$CA_BUNDLE")
$DOCKER build --network host --progress=plain --build-arg "BASE_IMAGE=$BASE" "${secret[@]}" -t "$IMAGE" "$ROOT" \
  >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "docker build failed"; }
say "image built: $($DOCKER image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_container ARGS... : starts the image detached on the host network, health checked every second; prints
# the container id.
run_container() {
  $DOCKER run -d --network host --health-interval 1s "$@"
}

# wait_healthy CID PORT: until /_mock/health answers and Docker's HEALTHCHECK reports healthy.
wait_healthy() {
  local cid=$1 port=$2 status='' health
  for _ in $(seq 1 60); do
    status=$($DOCKER inspect -f '{{.State.Health.Status}}' "$cid")
    health=$(curl -sS "http://127.0.0.1:$port/_mock/health" 2>/dev/null || true)
    [ "$status" = healthy ] && [[ "$health" =~ \"status\":\ *\"ok\" ]] && return 0
    [ "$($DOCKER inspect -f '{{.State.Running}}' "$cid")" = true ] || break
    sleep 0.25
  done
  $DOCKER logs "$cid" >&2
  fail "container not healthy on port $port (health: ${status:-none})"
}

# check_curl PORT MODEL TEXT: a streamed chat completion through curl has TEXT and ends with data: [DONE].
check_curl() {
  local port=$1 model=$2 text=$3
  curl -sS -N --fail --max-time 10 -H 'Content-Type: application/json' \
    -d "{\"model\": \"$model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": true}" \
    "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/stream.txt" || fail "curl stream of $model failed"
  "$PYTHON" - "$WORK/stream.txt" "$text" <<'PY'
import json, sys
path, expected = sys.argv[1:]
events = [line[len("data: "):] for line in open(path).read().splitlines() if line.startswith("data: ")]
if not events or events[-1] != "[DONE]":
    sys.exit(f"smoke: FAIL: the stream does not end with data: [DONE]: {events[-1:]}")
chunks = [json.loads(event) for event in events[:-1]]
text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])
if text != expected:
    sys.exit(f"smoke: FAIL: curl got {text!r}, expected {expected!r}")
PY
}

# check_sdk PORT MODEL TEXT: the same through the openai SDK.
check_sdk() {
  "$PYTHON" - "http://127.0.0.1:$1/v1" "$2" "$3" <<'PY'
import sys
from openai import OpenAI
base_url, model, expected = sys.argv[1:]
client = OpenAI(base_url=base_url, api_key="smoke", max_retries=0, timeout=10)
stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True)
choices = [chunk.choices[0] for chunk in stream if chunk.choices]
text = "".join(choice.delta.content or "" for choice in choices)
finish = [choice.finish_reason for choice in choices if choice.finish_reason]
if text != expected or finish != ["stop"]:
    sys.exit(f"smoke: FAIL: the openai SDK got {text!r}, finish_reason {finish}; expected {expected!r}, stop")
PY
}

# check_stop CID: docker stop (SIGTERM, SIGKILL after 5 s) must end it well within the grace time, exit code 0.
check_stop() {
  local cid=$1 started elapsed_ms code
  started=$(date +%s%N)
  $DOCKER stop -t 5 "$cid" >/dev/null
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$cid")
  [ "$elapsed_ms" -lt 4500 ] || fail "docker stop took $elapsed_ms ms: SIGTERM did not stop the server promptly"
  [ "$code" = 0 ] || fail "exit code $code after SIGTERM"
  say "stopped by SIGTERM in $elapsed_ms ms, exit code 0"
}

# 1. The image as built: bundled scenarios; arguments after the image name go to `mockserver serve`.
port=$(free_port)
cid=$(run_container -e "MOCKSERVER_PORT=$port" "$IMAGE" --speed 0)
wait_healthy "$cid" "$port"
first=$($DOCKER logs "$cid" 2>/dev/null)
first=${first%%$'\n'*}
[ "$first" = "OPENAI_BASE_URL=http://127.0.0.1:$port/v1" ] || fail "unexpected first line: $first"
say "serving the bundled scenarios on port $port, healthy"
check_curl "$port" finish-stop "The capital of France is Paris."
check_sdk "$port" finish-stop "The capital of France is Paris."
say "streamed through curl and the openai SDK"
uid=$($DOCKER exec "$cid" id -u)
[ "$uid" != 0 ] || fail "the server runs as root"
pid1=$($DOCKER exec "$cid" cat /proc/1/cmdline | tr '\0' ' ')
[[ "$pid1" == *"mockserver serve --speed 0"* ]] || fail "PID 1 is not mockserver (it gets SIGTERM): $pid1"
say "runs as uid $uid; PID 1 is $pid1"
check_stop "$cid"

# 2. A folder of the user's own scenarios mounted at /scenarios, in the hardened setup the Kubernetes
# manifest uses (read-only root, no capabilities), with two worker processes.
mkdir "$WORK/scenarios"
cat >"$WORK/scenarios/mine.yaml" <<'EOF'
scenarios:
  - name: from-the-mount
    text: "Served from a mounted folder."
EOF
chmod 0755 "$WORK/scenarios" && chmod 0644 "$WORK/scenarios/mine.yaml"  # readable by the image's user
port=$(free_port)
cid=$(run_container --read-only --cap-drop ALL --security-opt no-new-privileges \
  -v "$WORK/scenarios:/scenarios:ro" -e "MOCKSERVER_PORT=$port" -e MOCKSERVER_WORKERS=2 "$IMAGE")
wait_healthy "$cid" "$port"
check_curl "$port" from-the-mount "Served from a mounted folder."
check_sdk "$port" from-the-mount "Served from a mounted folder."
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model": "finish-stop", "messages": [{"role": "user", "content": "hi"}]}' \
  "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 404 ] || fail "a bundled scenario answered ($status) although /scenarios replaces them"
say "serving the mounted folder instead of the bundled scenarios"
# The workers reach each other (abstract Unix sockets: nothing written on the read-only root) to add up /metrics.
workers=$(curl -sS "http://127.0.0.1:$port/metrics" | awk '$1 == "mockserver_workers" {print $2}')
[ "$workers" = 2 ] || fail "/metrics did not add up both workers (mockserver_workers: ${workers:-none})"
say "/metrics adds up both workers"
check_stop "$cid"
