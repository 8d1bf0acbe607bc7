#!/usr/bin/env bash
# A Spark standalone cluster on this machine: one master and two workers on the loopback address,
# started from pyspark's own `spark-class` (no separate Spark download). `make test-cluster` uses it.
#
#   scripts/spark_cluster.sh start    # prints the master URL, spark://127.0.0.1:$SPARK_CLUSTER_PORT
#   scripts/spark_cluster.sh status
#   scripts/spark_cluster.sh stop
#
# Small by design (a shared 2-core machine): each worker offers 1 core and $SPARK_CLUSTER_WORKER_MEMORY,
# the daemons themselves run with a 256 MB heap. State (pids, logs, work dirs) lives in $SPARK_CLUSTER_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PORT=${SPARK_CLUSTER_PORT:-7177}
WORKERS=${SPARK_CLUSTER_WORKERS:-2}
WORKER_MEMORY=${SPARK_CLUSTER_WORKER_MEMORY:-1g}
STATE=${SPARK_CLUSTER_DIR:-${TMPDIR:-/tmp}/workbench-spark-cluster-$PORT}
MASTER_URL="spark://127.0.0.1:$PORT"

# SPARK_HOME is the pyspark package itself: it ships bin/spark-class and the jars.
SPARK_HOME=$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME
export SPARK_LOCAL_IP=127.0.0.1 SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-256m}
# executors that start Python workers (Python UDFs) use the project's interpreter, not the system's
PYSPARK_PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
export PYSPARK_PYTHON

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Wait up to $2 seconds for the line $3 in log $1 (a daemon that died meanwhile fails at once).
wait_for() {
  local log=$1 seconds=$2 text=$3 pidfile=$4
  for _ in $(seq "$seconds"); do
    grep -q "$text" "$log" 2>/dev/null && return 0
    alive "$pidfile" || { echo "spark_cluster: $(basename "$log" .log) died; its log:" >&2; tail -20 "$log" >&2; return 1; }
    sleep 1
  done
  echo "spark_cluster: no '$text' in $log after $seconds s" >&2
  return 1
}

daemon() {  # name, class, args...
  local name=$1; shift
  nohup "$SPARK_HOME/bin/spark-class" "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

start() {
  if alive "$STATE/master.pid"; then echo "$MASTER_URL"; return 0; fi
  rm -rf "$STATE" && mkdir -p "$STATE"
  daemon master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" --webui-port 0
  wait_for "$STATE/master.log" 60 "I have been elected leader" "$STATE/master.pid" || { stop; return 1; }
  for i in $(seq "$WORKERS"); do
    mkdir -p "$STATE/work-$i"
    daemon "worker-$i" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 \
      --memory "$WORKER_MEMORY" --webui-port 0 --work-dir "$STATE/work-$i" "$MASTER_URL"
  done
  for i in $(seq "$WORKERS"); do
    wait_for "$STATE/worker-$i.log" 60 "Successfully registered with master" "$STATE/worker-$i.pid" || { stop; return 1; }
  done
  echo "$MASTER_URL"
}

stop() {
  # workers first, then the master; only the processes this script started (their pid files)
  for pidfile in "$STATE"/worker-*.pid "$STATE/master.pid"; do
    [ -f "$pidfile" ] || continue
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      for _ in $(seq 20); do alive "$pidfile" || break; sleep 0.5; done
      alive "$pidfile" && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

status() {
  for pidfile in "$STATE/master.pid" "$STATE"/worker-*.pid; do
    [ -f "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    if alive "$pidfile"; then echo "$name: running (pid $(cat "$pidfile"))"; else echo "$name: stopped"; fi
  done
  alive "$STATE/master.pid" && echo "$MASTER_URL"
  alive "$STATE/master.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
