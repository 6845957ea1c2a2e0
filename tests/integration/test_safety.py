#!/usr/bin/python3
"""Safety beyond leases, against the real binary: lock-delay on every transport, the
lock-set workload with paused holders (no defence / fenced store / lock-delay),
restart grace after kill -9, fences never issued unpersisted (full disk, read-only
file system, bad state files), and --max-lease-ttl.

    DFLOCKD_BIN=build/dflockd tests/integration/test_safety.py [-v] [Class]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from dflockd_testlib import (Server, binary_path, fence, grant, grpc_stubs,  # noqa: E402
                             server_metrics as metrics, wait_until)
import lockset  # noqa: E402

import grpc  # noqa: E402

pb, rpc = grpc_stubs()


def post(server, path, body):
    """(status, JSON body) of a REST POST."""
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (server.http_port, path),
                                     data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class SafetyCase(unittest.TestCase):
    def start(self, *args):
        server = Server(*args).start()
        self.addCleanup(server.stop)
        return server

    def timed_lock(self, conn, key, timeout):
        """Seconds until a blocking `l` is granted (asserts it is)."""
        started = time.monotonic()
        grant(conn.req("l", key, str(timeout), timeout=timeout + 5))
        return time.monotonic() - started


class LockDelayOnEveryTransport(SafetyCase):
    def test_native_sees_the_delay_as_waiting(self):
        s = self.start("--lock-delay", "2")
        holder, waiter = s.conn(), s.conn()
        grant(holder.req("l", "k", "0 1"))
        waited = self.timed_lock(waiter, "k", 10)  # lease 1 s + delay 2 s
        self.assertGreater(waited, 2.7)
        self.assertLess(waited, 4.5)

    def test_disconnect_starts_the_delay_and_release_does_not(self):
        s = self.start("--lock-delay", "2")
        a, b = s.conn(), s.conn()
        token, _ = grant(a.req("l", "released", "0 30"))
        self.assertEqual(a.req("r", "released", token), "ok")
        grant(b.req("l", "released", "0"))  # free at once
        grant(a.req("l", "dropped", "0 30"))
        a.close()  # auto-release: the holder may be alive elsewhere
        self.assertGreater(self.timed_lock(b, "dropped", 10), 1.7)
        stats = s.stats()
        self.assertNotIn("keys_in_lock_delay", stats)  # only while it applies
        m = metrics(s)
        self.assertEqual(m["dflockd_lock_delays_total"], 1)

    def test_stats_and_metrics_while_in_delay(self):
        s = self.start("--lock-delay", "5")
        grant(s.conn().req("l", "k", "0 1"))
        time.sleep(1.3)
        stats = s.stats()
        (entry,) = [l for l in stats["locks"] if l["key"] == "k"]
        self.assertGreater(entry["lock_delay_remaining_s"], 3)
        self.assertEqual(stats["keys_in_lock_delay"], 1)
        self.assertEqual(metrics(s)["dflockd_keys_in_lock_delay"], 1)

    def test_rest_sets_it_per_acquire(self):
        s = self.start("--lock-delay", "3")
        status, g = post(s, "/v1/locks/r0/acquire", {"lease_ttl_s": 1, "lock_delay_s": 0})
        self.assertEqual(status, 200)
        started = time.monotonic()
        status, _ = post(s, "/v1/locks/r0/acquire", {"timeout_s": 10})
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - started, 1.8)  # no delay for that hold
        status, _ = post(s, "/v1/locks/r5/acquire", {"lease_ttl_s": 1, "lock_delay_s": 5})
        started = time.monotonic()
        status, _ = post(s, "/v1/locks/r5/acquire", {"timeout_s": 10})
        self.assertEqual(status, 200)
        self.assertGreater(time.monotonic() - started, 5.5)
        status, body = post(s, "/v1/locks/bad/acquire", {"lock_delay_s": -1})
        self.assertEqual(status, 400)

    def test_grpc_sets_it_per_acquire(self):
        s = self.start("--lock-delay", "3")
        with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as channel:
            stub = rpc.DflockdStub(channel)
            resource = pb.Resource(kind=pb.KIND_LOCK, key="g")
            stub.Acquire(pb.AcquireRequest(resource=resource, lease_ttl_s=1, lock_delay_s=0), timeout=5)
            started = time.monotonic()
            stub.Acquire(pb.AcquireRequest(resource=resource, timeout_s=10, lease_ttl_s=1), timeout=15)
            self.assertLess(time.monotonic() - started, 1.8)
            # That hold takes the server's 3 s: the next one waits lease + delay.
            started = time.monotonic()
            stub.Acquire(pb.AcquireRequest(resource=resource, timeout_s=10), timeout=15)
            self.assertGreater(time.monotonic() - started, 3.3)
            stats = stub.Stats(pb.StatsRequest(), timeout=5)
            self.assertEqual(stats.keys_in_lock_delay, 0)


class LockSet(SafetyCase):
    """12 workers, lease 1 s, some paused 1.6 s inside the critical section."""

    def run_lockset(self, server, fenced):
        result = lockset.run("127.0.0.1", server.port, workers=12, lease=1, pause_s=1.6,
                             duration=6, fenced=fenced)
        print("lock-set:", json.dumps(result), file=sys.stderr)
        self.assertGreater(result["pauses"], 0, "no pause was injected")
        self.assertGreater(result["acked"], 0)
        return result

    def test_no_defence_reports_lost_updates(self):
        self.run_lockset(self.start(), fenced=False)  # reported, not asserted

    def test_fenced_store_loses_nothing(self):
        result = self.run_lockset(self.start(), fenced=True)
        self.assertEqual(result["lost"], 0)

    def test_lock_delay_protects_an_unfenced_store(self):
        result = self.run_lockset(self.start("--lock-delay", "2"), fenced=False)
        self.assertEqual(result["lost"], 0)


class RestartGrace(SafetyCase):
    def test_kill_9_then_restart_waits_out_the_grace(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "fence.state")
        first = self.start("--fence-state-file", path, "--restart-grace", "3")
        c = first.conn()
        old = [fence(grant(c.req("l", "k%d" % i, "0 300"))[0]) for i in range(5)]
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        with open(path) as f:
            self.assertNotIn("clean", f.read())
        second = Server("--fence-state-file", path, "--restart-grace", "3").start()
        self.addCleanup(second.stop)
        started = time.monotonic()
        c2 = second.conn()
        self.assertEqual(c2.req("l", "k0", "0"), "timeout")  # try-lock during the grace
        stats = second.stats()
        self.assertGreater(stats["restart_grace_remaining_s"], 1)
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % second.http_port, timeout=5) as r:
            self.assertEqual(r.status, 200)  # ready: other shards' clients are not affected
        token, _ = grant(c2.req("l", "k0", "10", timeout=15))
        self.assertGreater(time.monotonic() - started, 2.5)
        self.assertGreater(fence(token), max(old))
        self.assertIn("restart grace", second.output())
        # A clean stop needs no grace next time.
        self.assertIsNone(second.stop_cleanly())
        with open(path) as f:
            self.assertTrue(f.read().endswith("clean\n"))
        third = self.start("--fence-state-file", path, "--restart-grace", "3")
        t3, _ = grant(third.conn().req("l", "k0", "0"))
        self.assertGreater(fence(t3), fence(token))


class FenceStateFile(SafetyCase):
    def refuses_to_start(self, path, message):
        r = subprocess.run([binary_path(), "--fence-state-file", path, "--port", "1",
                            "--http-port", "0", "--grpc-port", "0"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(message, r.stdout + r.stderr)

    def test_missing_directory_fails_at_start(self):
        self.refuses_to_start("/nonexistent-dir/fence.state", "cannot write fence state file")

    def test_unwritable_location_fails_at_start(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "fence.state")
        os.mkdir(path + ".tmp")  # the atomic write's temp file cannot be created
        self.refuses_to_start(path, "cannot write fence state file")

    def test_mark_near_2_64_is_corrupt(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "fence.state")
        with open(path, "w") as f:
            f.write("%d\n" % (2 ** 64 - 5))
        self.refuses_to_start(path, "unreadable or corrupt")
        with open(path, "w") as f:
            f.write("123\ndirty\n")
        self.refuses_to_start(path, "unreadable or corrupt")


class FenceOutage(SafetyCase):
    """The file system under the state file fills up or turns read-only while the
    server runs: no grant without a persisted fence, and recovery afterwards."""

    def setUp(self):
        self.mount = tempfile.mkdtemp()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", self.mount],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mount)
            self.skipTest("cannot mount a tmpfs here (needs root): " + r.stderr.strip())
        self.addCleanup(lambda: (subprocess.run(["umount", "-l", self.mount]), os.rmdir(self.mount)))
        self.path = os.path.join(self.mount, "fence.state")

    def check_outage_and_recovery(self, break_it, repair):
        s = self.start("--fence-state-file", self.path)
        c = s.conn()
        break_it()  # before the first grant, which reserves the first block
        self.assertEqual(c.req("l", "k", "0"), "error")
        status, body = post(s, "/v1/locks/k2/acquire", {})
        self.assertEqual((status, body["error"]), (503, "fence_unavailable"))
        with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as channel:
            with self.assertRaises(grpc.RpcError) as e:
                rpc.DflockdStub(channel).Acquire(pb.AcquireRequest(
                    resource=pb.Resource(kind=pb.KIND_LOCK, key="k3")), timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertTrue(s.stats()["fences_unavailable"])
        m = metrics(s)
        self.assertEqual(m["dflockd_fences_unavailable"], 1)
        self.assertGreaterEqual(m["dflockd_fence_refusals_total"], 3)
        self.assertEqual(s.output().count("cannot persist the fence mark"), 1)  # once per incident
        repair()  # the next grant persists its block and goes through
        token, _ = grant(c.req("l", "k", "0"))
        self.assertGreater(fence(token), 0)
        self.assertNotIn("fences_unavailable", s.stats())
        self.assertIn("writable again", s.output())
        with open(self.path) as f:
            self.assertGreater(int(f.readline()), fence(token))

    def test_full_disk(self):
        filler = os.path.join(self.mount, "filler")

        def fill():
            try:
                with open(filler, "wb") as f:
                    while True:
                        f.write(b"\0" * 4096)
                        f.flush()
            except OSError:  # ENOSPC: the file system is full now
                pass
        self.check_outage_and_recovery(fill, lambda: os.unlink(filler))

    def test_read_only_file_system(self):
        remount = lambda mode: subprocess.run(["mount", "-o", "remount," + mode, self.mount], check=True)
        self.check_outage_and_recovery(lambda: remount("ro"), lambda: remount("rw"))


class MaxLease(SafetyCase):
    def test_longer_leases_are_invalid_everywhere(self):
        s = self.start("--max-lease-ttl", "60")
        c = s.conn()
        self.assertEqual(c.req("l", "k", "0 61"), "error")
        token, _ = grant(c.req("l", "k", "0 60"))
        self.assertEqual(c.req("n", "k", token + " 61"), "error")
        status, body = post(s, "/v1/locks/h/acquire", {"lease_ttl_s": 61})
        self.assertEqual(status, 400)
        with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as channel:
            with self.assertRaises(grpc.RpcError) as e:
                rpc.DflockdStub(channel).Acquire(pb.AcquireRequest(
                    resource=pb.Resource(kind=pb.KIND_LOCK, key="g"), lease_ttl_s=61), timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_default_lease_above_the_max_is_a_configuration_error(self):
        r = subprocess.run([binary_path(), "--max-lease-ttl", "10", "--default-lease-ttl", "33"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--default-lease-ttl must not exceed --max-lease-ttl", r.stderr)


if __name__ == "__main__":
    unittest.main()
