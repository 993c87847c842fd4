#!/usr/bin/env bash
# Issue #10: the HTTP layer's throughput cost, side by side in one run. The example HttpServer (HTTP/1.1 + h2c, one
# NIO event loop) runs twice, each in its own JVM, with the reaper's http() layer on and off (the other options the
# same), both pinned to CPU 0 with taskset; the load generator is pinned to CPU 1: wrk (HTTP/1.1 keep-alive,
# `wrk -t1 -c64 -d15s`) and h2load (HTTP/2 prior knowledge, `h2load -c 16 -m 10 -D 15`). After a discarded warm-up of
# each client against each server, the rounds alternate the two servers (on, off | off, on | on, off ...) so that
# a drift in the machine's load falls on both. About four minutes; --smoke takes seconds.
#
#   bash benchmarks/http.sh                 # 3 rounds x (on, off) x (wrk, h2load), 15 s each, 10 s warm-ups
#   bash benchmarks/http.sh --rounds=5
#   bash benchmarks/http.sh --smoke         # 1 round, 1 s runs: checks that everything works, measures nothing
#   bash benchmarks/http.sh --jdk /usr/lib/jvm/temurin-25-jdk-amd64
#   bash benchmarks/http.sh --all           # also the per-request JMH figure and the heap figure (about 7 minutes)
#
# The Markdown table goes to target/bench/http-results.md (the clients' raw output to target/bench/http-raw.log).
# See docs/performance.md, "The HTTP layer".
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
DUR=15
WARM=10
BUILD=1
ALL=0
SMOKE=0
JAVA=java
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; ROUNDS=1; DUR=1; WARM=1; shift ;;
    --rounds=*) ROUNDS="${1#--rounds=}"; shift ;;
    --duration=*) DUR="${1#--duration=}"; shift ;;
    --warmup=*) WARM="${1#--warmup=}"; shift ;;
    --no-build) BUILD=0; shift ;;
    --all) ALL=1; shift ;;
    --jdk) JAVA="$2/bin/java"; shift 2 ;;
    --jdk=*) JAVA="${1#--jdk=}/bin/java"; shift ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
for tool in wrk h2load curl; do
  command -v "$tool" >/dev/null || { echo "benchmarks/http.sh needs $tool on the PATH" >&2; exit 2; }
done
PIN_SERVER=(); PIN_CLIENT=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
fi

mkdir -p target/bench
if [ "$BUILD" = 1 ]; then
  echo "== building (mvn test-compile; the benchmarks are test sources)"
  mvn -q -B -o -DskipTests test-compile || mvn -q -B -DskipTests test-compile
  mvn -q -B -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench/classpath.txt \
    || mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench/classpath.txt
fi
CP="target/test-classes:target/classes:$(cat target/bench/classpath.txt)"
RAW=target/bench/http-raw.log
OUT=target/bench/http-results.md
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A PID PORT
stop_servers() {
  for cfg in "${!PID[@]}"; do
    kill "${PID[$cfg]}" 2>/dev/null || true
    wait "${PID[$cfg]}" 2>/dev/null || true
  done
  PID=()
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

start_server() { # on|off: the example server in a JVM of its own, on a free port
  local cfg=$1 log=target/bench/http-server-$1.log
  "${PIN_SERVER[@]+"${PIN_SERVER[@]}"}" "$JAVA" -Xms512m -Xmx512m \
    -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info -Dio.netty.leakDetection.level=disabled \
    -cp "$CP" io.github.idlereaper.bench.HttpBenchServer "$cfg" 0 >"$log" 2>&1 &
  PID[$cfg]=$!
  for _ in $(seq 1 300); do
    if grep -q '^port ' "$log" 2>/dev/null; then
      PORT[$cfg]=$(awk '/^port / {print $2; exit}' "$log")
      curl -sf -o /dev/null "http://127.0.0.1:${PORT[$cfg]}/" && return 0
    fi
    kill -0 "${PID[$cfg]}" 2>/dev/null || { echo "server ($cfg) died:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "server ($cfg) did not answer" >&2; cat "$log" >&2; exit 1
}

ERRS=target/bench/http-errors.log # run_client runs in a subshell: errors go through a file
run_client() { # tool cfg seconds label -> prints req/s; appends the client's output to $RAW
  local tool=$1 cfg=$2 secs=$3 label=$4 url="http://127.0.0.1:${PORT[$2]}/" out
  if [ "$tool" = wrk ]; then
    out=$("${PIN_CLIENT[@]+"${PIN_CLIENT[@]}"}" wrk -t1 -c64 -d"${secs}s" "$url")
  else
    out=$("${PIN_CLIENT[@]+"${PIN_CLIENT[@]}"}" h2load -c 16 -m 10 -D "$secs" "$url")
  fi
  printf '== %s: %s, layer %s\n%s\n' "$label" "$tool" "$cfg" "$out" >>"$RAW"
  if [ "$tool" = wrk ]; then
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
      echo "$label $tool $cfg: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')" >>"$ERRS"
    fi
    awk '/^Requests\/sec:/ {print $2}' <<<"$out"
  else
    local bad
    bad=$(awk '/^requests:/ {if ($10 != 0 || $12 != 0 || $14 != 0) print}' <<<"$out")
    [ -z "$bad" ] || echo "$label $tool $cfg: $bad" >>"$ERRS"
    awk '/^finished in/ {print $4}' <<<"$out"
  fi
}

: >"$RAW"
: >"$ERRS"
echo "== starting the two servers (layer on, layer off), pinned: ${PIN_SERVER[*]:-no}; clients pinned: ${PIN_CLIENT[*]:-no}"
start_server on
start_server off
echo "   on: port ${PORT[on]}, off: port ${PORT[off]}"
echo "== warm-up, discarded: ${WARM} s of each client against each server"
for tool in wrk h2load; do
  for cfg in on off; do
    v=$(run_client "$tool" "$cfg" "$WARM" warm-up)
    printf '   warm-up   %-6s %-3s %12s req/s\n' "$tool" "$cfg" "$v"
  done
done

declare -A R
echo "== measuring: ${ROUNDS} rounds, ${DUR} s per run"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order=(on off); else order=(off on); fi
  for tool in wrk h2load; do
    for cfg in "${order[@]}"; do
      v=$(run_client "$tool" "$cfg" "$DUR" "round $round")
      R[$tool,$cfg,$round]=$v
      printf '   round %d   %-6s %-3s %12s req/s\n' "$round" "$tool" "$cfg" "$v"
    done
  done
done
stop_servers

# The paired losses' mean with its 95 % interval (Student's t), and what that says of the 2 % budget.
verdict() {
  printf '%s\n' "$@" | awk '
    BEGIN { split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23 2.20 2.18 2.16 2.14 2.13", t, " ") }
    { x[NR] = $1; s += $1 }
    END {
      n = NR; m = s / n
      if (n < 2) { printf "paired loss %+.1f %% in 1 round: no interval, unresolved", m; exit }
      for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
      se = sqrt(v / (n - 1) / n); q = (n - 1 <= 15) ? t[n - 1] : 1.96; h = q * se
      w = (m + h <= 2) ? "holds (≤ 2 %)" : (m - h > 2) ? "**missed** (> 2 %)" : "unresolved: the interval straddles 2 %"
      printf "paired loss %+.1f %% ± %.1f (95 %% interval over %d rounds): %s", m, h, n, w
    }'
}
declare -A VERDICT

JDK=$("$JAVA" -version 2>&1 | head -1)
{
  echo "HTTP layer throughput (benchmarks/http.sh), $START to $(date -u +%Y-%m-%dT%H:%M:%SZ)."
  echo
  echo "- Machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r);" \
       "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- JDK: $JDK; server JVMs -Xms512m -Xmx512m, pinned: ${PIN_SERVER[*]:-no}; clients pinned: ${PIN_CLIENT[*]:-no}"
  echo "- wrk -t1 -c64 -d${DUR}s (HTTP/1.1 keep-alive); h2load -c 16 -m 10 -D $DUR (HTTP/2, prior knowledge);" \
       "$ROUNDS rounds, on and off alternating (on first in odd rounds), after ${WARM} s warm-ups (discarded)"
  if [ "$SMOKE" = 1 ]; then echo "- SMOKE RUN: 1 s per run, not a measurement"; fi
  echo
  printf '| client | layer |'; for r in $(seq 1 "$ROUNDS"); do printf ' round %d |' "$r"; done
  echo ' mean req/s | loss |'
  printf '|---|---|'; for _ in $(seq 1 "$ROUNDS"); do printf '%s' '---:|'; done; echo '---:|---:|'
  for tool in wrk h2load; do
    for cfg in on off; do
      vals=(); for r in $(seq 1 "$ROUNDS"); do vals+=("${R[$tool,$cfg,$r]}"); done
      R[$tool,$cfg,mean]=$(printf '%s\n' "${vals[@]}" | awk '{s+=$1} END {printf "%.0f", s/NR}')
      printf '| %s | %s |' "$tool" "$cfg"; for v in "${vals[@]}"; do printf ' %.0f |' "$v"; done
      if [ "$cfg" = off ]; then
        loss=$(awk -v a="${R[$tool,on,mean]}" -v b="${R[$tool,off,mean]}" 'BEGIN {printf "%+.1f %%", (b-a)/b*100}')
        echo " ${R[$tool,$cfg,mean]} | $loss of the means |"
      else
        echo " ${R[$tool,$cfg,mean]} | |"
      fi
    done
    printf '| %s | loss in the round |' "$tool"
    losses=()
    for r in $(seq 1 "$ROUNDS"); do
      l=$(awk -v a="${R[$tool,on,$r]}" -v b="${R[$tool,off,$r]}" 'BEGIN {printf "%.1f", (b-a)/b*100}')
      losses+=("$l"); printf ' %+.1f %% |' "$l"
    done
    med=$(printf '%s\n' "${losses[@]}" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}')
    printf ' | %+.1f %% median |\n' "$med"
    VERDICT[$tool]=$(verdict "${losses[@]}")
  done
  echo
  for tool in wrk h2load; do echo "- $tool: ${VERDICT[$tool]}"; done
  echo
  echo "Loss = (off − on) / off: positive when the layer costs throughput. The budget is a loss of at most 2 %; it"
  echo "holds when the 95 % interval of the rounds' paired losses lies below 2 %, is missed when the interval lies"
  echo "above, and is unresolved otherwise. Raw client output: $RAW."
  if [ -s "$ERRS" ]; then
    echo; echo "Client errors:"; sed 's/^/- /' "$ERRS"
  else
    echo "No client reported an error, a failed request or a non-2xx response."
  fi
} >"$OUT"
echo; cat "$OUT"

if [ "$ALL" = 1 ]; then
  echo "== per request: JMH (HttpLayerFigure)"
  "$JAVA" -Dio.netty.leakDetection.level=disabled -cp "$CP" io.github.idlereaper.bench.HttpLayerFigure \
    $([ "$SMOKE" = 1 ] && echo --smoke) --out=target/bench/http-jmh.md
  echo "== per connection: heap (HttpHeapFigure)"
  "$JAVA" -Xms1g -Xmx2g -Dio.netty.leakDetection.level=disabled -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info \
    -cp "$CP" io.github.idlereaper.bench.HttpHeapFigure $([ "$SMOKE" = 1 ] && echo 500 || echo 20000) \
    --out=target/bench/http-heap.md
fi
