#!/usr/bin/env bash
# Builds idle-reaper and runs its benchmark suite (issue #5): six figures, four configurations side by side in
# one run (bare, pass-through, Netty's IdleStateHandler + a closing handler, the reaper), one table at the end.
# About eleven minutes on a shared 2-core machine. See docs/performance.md.
#
#   bash benchmarks/run.sh                      # the whole suite on the default JDK
#   bash benchmarks/run.sh --jdk /usr/lib/jvm/temurin-25-jdk-amd64
#   bash benchmarks/run.sh --figures=1,4        # a subset
#   bash benchmarks/run.sh --smoke              # tiny sizes, seconds
#
# The Markdown report goes to target/bench/results-jdkN.md (or --out=FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

JAVA=java
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jdk) JAVA="$2/bin/java"; shift 2 ;;
    --jdk=*) JAVA="${1#--jdk=}/bin/java"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

mkdir -p target/bench
echo "== building (mvn test-compile; the benchmarks are test sources, JMH's generator runs there)"
mvn -q -B -DskipTests test-compile
mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench/classpath.txt

echo "== running on $("$JAVA" -version 2>&1 | head -1)"
# One JVM runs the suite; figure 1 starts a second one for the client side of the loopback connections, and JMH
# forks one per configuration. The reaper's per-reap DEBUG lines are turned off: figures 4 and 5 reap 240,000.
exec "$JAVA" -Xms1g -Xmx6g \
  -Dorg.slf4j.simpleLogger.log.io.github.idlereaper=info \
  -Dio.netty.leakDetection.level=disabled \
  -cp "target/test-classes:target/classes:$(cat target/bench/classpath.txt)" \
  io.github.idlereaper.bench.BenchSuite "${ARGS[@]+"${ARGS[@]}"}"
