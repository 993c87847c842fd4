#!/usr/bin/env bash
# Issue #10: the HTTP layer's throughput cost, side by side in one run. The example HttpServer (HTTP/1.1 + h2c) with
# the reaper's http() layer on, then off, alternating, each server in its own JVM pinned to CPU 0 and the load
# generator pinned to CPU 1: wrk (HTTP/1.1 keep-alive, 64 connections) and h2load (HTTP/2 prior knowledge,
# 16 connections x 10 streams). A discarded warm-up per server start. About three minutes; --smoke takes seconds.
#
#   bash benchmarks/http.sh            # 2 rounds x (on, off) x (wrk, h2load), 10 s each
#   bash benchmarks/http.sh --rounds=3
#   bash benchmarks/http.sh --smoke    # 1 round, 1 s runs
#
# The Markdown table goes to target/bench/http-results.md. See docs/performance.md, "The HTTP layer".
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=2
DUR=10
WARM=8
BUILD=1
for a in "$@"; do
  case "$a" in
    --smoke) ROUNDS=1; DUR=1; WARM=1 ;;
    --rounds=*) ROUNDS="${a#--rounds=}" ;;
    --duration=*) DUR="${a#--duration=}" ;;
    --no-build) BUILD=0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
for tool in wrk h2load curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool on the PATH" >&2; exit 2; }
done
PIN_SERVER=(); PIN_CLIENT=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
fi

mkdir -p target/bench
if [ "$BUILD" = 1 ]; then
  echo "== building (mvn test-compile + class path)"
  mvn -q -B -o -DskipTests test-compile
  mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench/classpath.txt
fi
CP="target/test-classes:target/classes:$(cat target/bench/classpath.txt)"
PORT=${HTTP_BENCH_PORT:-18080}
URL="http://127.0.0.1:$PORT/"
LOG=target/bench/http-server.log
SERVER_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

start_server() { # on|off
  "${PIN_SERVER[@]+"${PIN_SERVER[@]}"}" java -Xms512m -Xmx512m \
    -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info -Dio.netty.leakDetection.level=disabled \
    -cp "$CP" io.github.idlereaper.bench.HttpBenchServer "$1" "$PORT" >"$LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if curl -sf -o /dev/null "$URL"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.1
  done
  echo "server ($1) did not answer on $URL" >&2; cat "$LOG" >&2; exit 1
}

wrk_rps() { # duration
  "${PIN_CLIENT[@]+"${PIN_CLIENT[@]}"}" wrk -t1 -c64 -d"$1"s "$URL" | tee -a target/bench/http-raw.log \
    | awk '/^Requests\/sec:/ {print $2}'
}
h2_rps() { # duration
  "${PIN_CLIENT[@]+"${PIN_CLIENT[@]}"}" h2load -c 16 -m 10 -D "$1" "$URL" | tee -a target/bench/http-raw.log \
    | awk '/^finished in/ {print $4} /^requests:/ && $12 != 0 {print "h2load: failed requests: " $0 > "/dev/stderr"}'
}

: >target/bench/http-raw.log
declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for cfg in on off; do
    for tool in wrk h2load; do
      start_server "$cfg"
      # Discarded warm-up with the same client (JIT, pools), then the measured run, on a fresh server each time.
      if [ "$tool" = wrk ]; then wrk_rps "$WARM" >/dev/null; v=$(wrk_rps "$DUR"); else h2_rps "$WARM" >/dev/null; v=$(h2_rps "$DUR"); fi
      stop_server
      R[$tool,$cfg,$round]=$v
      printf '   round %d  %-6s %-3s %12s req/s\n' "$round" "$tool" "$cfg" "$v"
    done
  done
done

OUT=target/bench/http-results.md
{
  echo "# HTTP layer throughput, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) CPUs, $(java -version 2>&1 | head -1), Linux $(uname -r); server pinned: ${PIN_SERVER[*]:-no}," \
       "client pinned: ${PIN_CLIENT[*]:-no}; $ROUNDS rounds of ${DUR} s per configuration, each after a ${WARM} s warm-up."
  echo
  printf '| client | layer |'; for r in $(seq 1 "$ROUNDS"); do printf ' round %d |' "$r"; done; echo ' mean req/s | loss (on vs off) |'
  printf '|---|---|'; for _ in $(seq 1 "$ROUNDS"); do printf '%s' '---:|'; done; echo '---:|---:|'
  for tool in wrk h2load; do
    for cfg in on off; do
      vals=(); for r in $(seq 1 "$ROUNDS"); do vals+=("${R[$tool,$cfg,$r]}"); done
      mean=$(printf '%s\n' "${vals[@]}" | awk '{s+=$1} END {printf "%.0f", s/NR}')
      R[$tool,$cfg,mean]=$mean
      loss=""
      if [ "$cfg" = off ]; then
        loss=$(awk -v a="${R[$tool,on,mean]}" -v b="$mean" 'BEGIN {printf "%+.1f %%", (b-a)/b*100}')
      fi
      printf '| %s | %s |' "$tool" "$cfg"; for v in "${vals[@]}"; do printf ' %.0f |' "$v"; done; echo " $mean | $loss |"
    done
  done
  echo
  echo "Loss = (off - on) / off: positive when the layer costs throughput. Raw client output: target/bench/http-raw.log."
} >"$OUT"
echo; cat "$OUT"
