#!/usr/bin/env bash
# Shard routing cost, one run on this box (docs/sharding.md, "Benchmarks"). Four
# servers run side by side: an unsharded one, and three shards. For each worker
# count, ROUNDS rounds alternate three loads, so drift of the machine hits them alike:
#   unsharded   keys on the unsharded server;
#   direct      shard 1's keys sent to shard 1 (sharded mode, at the owner);
#   forwarded   shard 1's keys sent to shard 0 (every request forwarded to shard 1).
# The median and the best of the rounds are reported (this box is noisy: the same
# load varies by ±15% from one run to the next). Then memory: SESSIONS idle forwarded sessions,
# each holding a lock of shard 1 through shard 0.
# Usage: bench/sharding.sh [build-dir] [workers...]   (default: build, 1 50 100)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
WORKERS=${*:-1 50 100}
BIN=$BUILD/dflockd
BENCH=$BUILD/dflockd-bench
SESSIONS=${SESSIONS:-5000}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
. bench/servers.sh
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

COMMON=(--http-port 0 --grpc-port 0 --max-locks 100000 --log-level info)
"$BIN" --port 17400 "${COMMON[@]}" > "$(log_file u)" 2>&1 & PIDS+=($!)
SHARDS=127.0.0.1:17410,127.0.0.1:17420,127.0.0.1:17430
for i in 0 1 2; do
  "$BIN" --port $((17410 + 10 * i)) "${COMMON[@]}" --shards "$SHARDS" --shard-self "$i" > "$(log_file "$i")" 2>&1 & PIDS+=($!)
done
for p in 17400 17410 17420 17430; do wait_port $p; done

results=$(mktemp)
for w in $WORKERS; do
  for r in $(seq "$ROUNDS"); do
    for load in unsharded direct forwarded; do
      case $load in
        unsharded) args=(--server 127.0.0.1:17400) ;;
        direct) args=(--server 127.0.0.1:17420 --key-shard 1/3) ;;
        forwarded) args=(--server 127.0.0.1:17410 --key-shard 1/3) ;;
      esac
      line=$("$BENCH" "${args[@]}" --workers "$w" --duration "$DURATION" --no-progress --json)
      echo "$load w=$w round $r: $line" >&2
      echo "$load $w $line" >> "$results"
    done
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    load, w, doc = line.split(" ", 2)
    rows.setdefault((int(w), load), []).append(json.loads(doc))
print("| workers | load | pairs/s, median | pairs/s, best | p50 µs | p99 µs | median vs unsharded | median vs direct |")
print("|---|---|---|---|---|---|---|---|")
for w in sorted({k[0] for k in rows}):
    med = {load: sorted(rows[(w, load)], key=lambda r: r["ops_per_s"])[len(rows[(w, load)]) // 2]
           for load in ("unsharded", "direct", "forwarded")}
    for load in ("unsharded", "direct", "forwarded"):
        m = med[load]
        best = max(r["ops_per_s"] for r in rows[(w, load)])
        print("| %d | %s | %d | %d | %.0f | %.0f | %.0f%% | %s |" % (
            w, load, m["ops_per_s"], best, m["p50_us"], m["p99_us"],
            100 * m["ops_per_s"] / med["unsharded"]["ops_per_s"],
            "%.0f%%" % (100 * m["ops_per_s"] / med["direct"]["ops_per_s"]) if load == "forwarded" else ""))
PY

echo "== memory per forwarded session ($SESSIONS sessions, each holding a lock of shard 1 via shard 0)"
before0=$(rss "${PIDS[1]}"); before1=$(rss "${PIDS[2]}")
out=$("$BENCH" --mode connections --connections "$SESSIONS" --server 127.0.0.1:17410 \
  --key-shard 1/3 --server-pid "${PIDS[1]}" --server-pid "${PIDS[2]}" --json)
python3 - "$out" "$before0" "$before1" "$SESSIONS" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); b0, b1, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
a0, a1 = r["servers_rss_kib"]
print("%d sessions open; forwarding shard +%.1f KiB per session, owner +%.1f KiB per session"
      % (r["open"], (a0 - b0) / n, (a1 - b1) / n))
PY
