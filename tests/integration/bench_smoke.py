#!/usr/bin/python3
"""Runs every dflockd-bench mode for a moment against a real server and checks the
JSON it prints. Usage: bench_smoke.py DFLOCKD_BIN BENCH_BIN"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
os.environ["DFLOCKD_BIN"] = sys.argv[1]
from dflockd_testlib import Server, free_port  # noqa: E402

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
    # A WebSocket watcher on '>' during a lock run (the watch API's cost benchmark).
    r = subprocess.run([bench, "--server", "127.0.0.1:%d" % server.port, "--http",
                        "127.0.0.1:%d" % server.http_port, "--watchers", "1", "--workers", "4",
                        "--duration", "0.5", "--warmup", "0.2", "--json", "--no-progress"],
                       capture_output=True, text=True, timeout=60)
    watched = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 else {}
    # Two events per lock + release pair, every one of them read.
    if (r.returncode != 0 or watched.get("watcher_dropped") is not False
            or watched["watch_events"] < 2 * watched["count"]):
        failures.append("watchers: exit %d %s %s" % (r.returncode, r.stdout, r.stderr))
    print("watchers", r.stdout.strip())
    # lock mode over HTTP and gRPC, and against Redis's lock pattern.
    runs = [("http", ["--server", "127.0.0.1:%d" % server.http_port, "--transport", "http"]),
            ("grpc", ["--server", "127.0.0.1:%d" % server.grpc_port, "--transport", "grpc"]),
            ("grpc, 2 channels", ["--server", "127.0.0.1:%d" % server.grpc_port,
                                  "--transport", "grpc", "--grpc-channels", "2"]),
            ("grpc session", ["--server", "127.0.0.1:%d" % server.grpc_port,
                              "--transport", "grpc", "--grpc-api", "session"])]
    redis = None
    if shutil.which("redis-server"):
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", redis_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        runs.append(("redis", ["--server", "127.0.0.1:%d" % redis_port, "--target", "redis"]))
    else:
        failures.append("redis-server is not installed")
    try:
        for name, extra in runs:
            r = subprocess.run([bench, "--mode", "lock", "--workers", "4", "--duration", "0.5",
                                "--warmup", "0.2", "--json", "--no-progress", *extra],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0 or json.loads(r.stdout.splitlines()[0])["count"] == 0:
                failures.append("%s: exit %d %s %s" % (name, r.returncode, r.stdout, r.stderr))
            print(name, r.stdout.strip())
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait()
finally:
    problem = server.stop_cleanly()

# A server that accepts and never answers: the run must fail, not hang.
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
r = subprocess.run([bench, "--server", "127.0.0.1:%d" % silent.getsockname()[1], "--mode", "lock",
                    "--workers", "2", "--duration", "1", "--warmup", "0", "--no-progress"],
                   capture_output=True, text=True, timeout=60)
silent.close()
if r.returncode == 0 or "no operation completed" not in r.stderr:
    failures.append("stalled run: exit %d %s" % (r.returncode, r.stderr))
print("stalled run:", r.stderr.strip())

if problem:
    failures.append(problem)
print("\n".join(failures))
sys.exit(1 if failures else 0)
