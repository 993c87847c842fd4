#!/usr/bin/env bash
# The soak and fault suite (issue #13): one server JVM with the reaper on four ports, one client JVM per group in
# a network namespace of its own (15 groups, 18,500 connections by default), faults injected while it runs, and a
# verdict per group. Needs root and iproute2 (it creates and removes its namespaces and veth pairs). See
# docs/reliability.md.
#
#   bash benchmarks/soak.sh                                   # 18,500 connections for 60 s
#   bash benchmarks/soak.sh --duration=1800                   # a 30-minute soak
#   bash benchmarks/soak.sh --ci                              # CI's: 1,000 connections for 60 s
#   bash benchmarks/soak.sh --jdk=/usr/lib/jvm/temurin-25-jdk-amd64
#
# Other options: --connections=N, --slack=MS (default 1000), --seed=N, --out=FILE (default target/soak/report.md;
# the clients' logs go beside it). Exit status 0 only when no connection was reaped falsely or missed, nothing
# leaked and no socket was left open.
set -euo pipefail
cd "$(dirname "$0")/.."

JAVA=java
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --jdk=*) JAVA="${arg#--jdk=}/bin/java" ;;
    --ci) ARGS+=(--connections=1000 --duration=60) ;;
    *) ARGS+=("$arg") ;;  # SoakMain's own options
  esac
done

# Namespaces and links of soak JVMs that died (kill -9, a lost machine) carry their pid; remove those whose
# process is gone. The soak removes its own on any exit it lives through.
clean_stale() {
  for ns in $(ip netns list 2>/dev/null | awk '/^idlereaper-[0-9]+-[0-9]+/ {print $1}'); do
    pid=${ns#idlereaper-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
}
trap clean_stale EXIT
clean_stale

mkdir -p target/soak
echo "== building (mvn test-compile; the soak is test sources)"
mvn -q -B -ntp -DskipTests test-compile
mvn -q -B -ntp dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/soak/classpath.txt

echo "== soaking on $("$JAVA" -version 2>&1 | head -1)"
# The server's log goes to target/soak/server.log: a throwing listener is logged at WARN on every 50th reap.
# PARANOID tracks every buffer; acquireAndReleaseOnly keeps only the retain and release records in a leak's report
# (a stack trace at every access would cost the two cores more than the server itself). It finds the same leaks.
set +e
"$JAVA" -Xms1g -Xmx2g -XX:+UseParallelGC \
  -Dio.netty.leakDetection.level=paranoid \
  -Dio.netty.leakDetection.targetRecords=4 \
  -Dio.netty.leakDetection.acquireAndReleaseOnly=true \
  -Xlog:gc:file=target/soak/gc.log \
  -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info \
  -Dorg.slf4j.simpleLogger.logFile=target/soak/server.log \
  -cp "target/test-classes:target/classes:$(cat target/soak/classpath.txt)" \
  io.github.idlereaper.SoakMain "${ARGS[@]+"${ARGS[@]}"}"
status=$?
set -e
exit $status
