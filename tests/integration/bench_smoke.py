#!/usr/bin/python3
"""Runs every dflockd-bench mode for a moment against a real server and checks the
JSON it prints. Usage: bench_smoke.py DFLOCKD_BIN BENCH_BIN"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
os.environ["DFLOCKD_BIN"] = sys.argv[1]
from dflockd_testlib import Server  # noqa: E402

bench = sys.argv[2]
server = Server("--signal-queue-size", "100000").start()
failures = []
try:
    for mode, extra in [("lock", ["--workers", "4"]), ("contended", ["--workers", "4"]),
                        ("semaphore", ["--workers", "4"]), ("two-phase", ["--workers", "4"]),
                        ("signal", ["--subscribers", "3"]),
                        ("connections", ["--connections", "50", "--server-pid",
                                         str(server.proc.pid)])]:
        r = subprocess.run([bench, "--server", "127.0.0.1:%d" % server.port, "--mode", mode,
                            "--duration", "0.5", "--warmup", "0.2", "--json", "--no-progress",
                            *extra], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            failures.append("%s: exit %d %s" % (mode, r.returncode, r.stderr))
            continue
        result = json.loads(r.stdout.splitlines()[0])
        ok = result.get("open") == 50 if mode == "connections" else result["count"] > 0
        if not ok or (mode == "connections" and result["server_rss_kib"] <= 0):
            failures.append("%s: %s" % (mode, r.stdout))
        print(mode, r.stdout.strip())
finally:
    problem = server.stop_cleanly()
if problem:
    failures.append(problem)
print("\n".join(failures))
sys.exit(1 if failures else 0)
