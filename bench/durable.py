#!/usr/bin/python3
"""Durable-mode lock+release figures: a 3-member etcd cluster on this box (tmpfs data,
Debian's etcd), dflockd replicas of one shard on it, dflockd-bench at the leader.

    bench/durable.py [--workers 1,50,200] [--duration 10] [--replicas 1] [--single-node]
                     [-- extra dflockd flags]

DFLOCKD_BIN / DFLOCKD_BENCH point at the binaries (default build/). Prints one line per
run and the leader's batching (changes per Txn) from its Prometheus metrics.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ha"))
from dflockd_testlib import Server, leader_among, server_metrics, wait_until  # noqa: E402
from etcd_cluster import EtcdCluster  # noqa: E402


def metric(server, name):
    return server_metrics(server).get(name, 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,50,200")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1, help="runs per worker count")
    ap.add_argument("--etcd-leader-only", action="store_true",
                    help="give dflockd only the etcd raft leader's endpoint")
    ap.add_argument("--single-node", action="store_true",
                    help="first the same runs against a dflockd without etcd, for scale")
    ap.add_argument("extra", nargs="*", help="extra dflockd flags (after --)")
    a = ap.parse_args()
    bench = os.environ.get("DFLOCKD_BENCH", os.path.join(ROOT, "build", "dflockd-bench"))
    os.environ.setdefault("DFLOCKD_BIN", os.path.join(ROOT, "build", "dflockd"))
    def run(server, workers):
        out = subprocess.run([bench, "--server", "%s:%d" % (server.host, server.port),
                              "--workers", str(workers), "--duration", str(a.duration),
                              "--json", "--no-progress"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    if a.single_node:
        with Server() as single:
            for workers in (int(w) for w in a.workers.split(",")):
                for _ in range(a.rounds):
                    print("single-node workers %4d  %s" % (workers, json.dumps(run(single, workers))),
                          flush=True)
    with EtcdCluster() as etcd:
        prefix = "/dflockd-bench/%d" % time.monotonic_ns()
        endpoints = etcd.leader_endpoint() if a.etcd_leader_only else etcd.endpoints
        replicas = [Server("--etcd-endpoints", endpoints, "--etcd-prefix", prefix, *a.extra)
                    for _ in range(a.replicas)]
        try:
            for r in replicas:
                r.start()
            leader = wait_until(lambda: leader_among(replicas), timeout=15)
            assert leader, "no leader elected"
            for workers in (int(w) for w in a.workers.split(",")):
                for _ in range(a.rounds):
                    writes0 = metric(leader, "dflockd_ha_writes_total")
                    changes0 = metric(leader, "dflockd_ha_changes_total")
                    res = run(leader, workers)
                    writes = metric(leader, "dflockd_ha_writes_total") - writes0
                    changes = metric(leader, "dflockd_ha_changes_total") - changes0
                    print("durable workers %4d  %s  changes/Txn %.1f" %
                          (workers, json.dumps(res), changes / writes if writes else 0), flush=True)
        finally:
            for r in replicas:
                r.stop()


if __name__ == "__main__":
    main()
