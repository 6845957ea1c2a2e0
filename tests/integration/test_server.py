#!/usr/bin/python3
"""Integration tests of the real dflockd binary: configuration, auth, TLS, timeouts,
limits, shutdown and hostile input. Each test starts its own server on a free port.

    DFLOCKD_BIN=build/dflockd tests/integration/test_server.py [-v] [Class.test]
"""
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dflockd_testlib import (Conn, Server, binary_path, fence, grant,  # noqa: E402
                             make_self_signed_cert, unique)


class ServerCase(unittest.TestCase):
    def server(self, *args, env=None):
        s = Server(*args, env=env).start()

        def stop():
            problem = s.stop_cleanly()
            self.assertIsNone(problem, problem)

        self.addCleanup(stop)
        return s

    def conn(self, server, **kw):
        c = server.conn(**kw)
        self.addCleanup(c.close)
        return c


class Configuration(ServerCase):
    def run_binary(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([binary_path(), *args], env=e, capture_output=True, text=True,
                              timeout=10)

    def test_version(self):
        r = self.run_binary("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"dflockd \d+\.\d+\.\d+")

    def test_help_lists_every_flag(self):
        r = self.run_binary("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ["--host", "--port", "--default-lease-ttl", "--lease-sweep-interval",
                     "--gc-interval", "--gc-max-idle", "--max-locks", "--max-connections",
                     "--max-connections-per-ip", "--max-waiters", "--max-subscriptions",
                     "--read-timeout", "--write-timeout", "--shutdown-timeout",
                     "--auto-release-on-disconnect", "--tls-cert", "--tls-key", "--auth-token",
                     "--auth-token-file", "--debug", "--version", "--fence-state-file",
                     "--log-level", "--lock-delay", "--restart-grace", "--max-lease-ttl"]:
            self.assertIn(flag, r.stdout)

    def test_log_level(self):
        quiet = self.server("--log-level", "warn")
        self.assertEqual(self.conn(quiet).req("ping"), "ok")
        self.assertNotIn("dflockd ready", quiet.output())  # an info line
        loud = self.server(env={"DFLOCKD_LOG_LEVEL": "debug"})
        self.assertIn("dflockd ready", loud.output())
        r = self.run_binary("--log-level", "loud")
        self.assertEqual(r.returncode, 1)

    def test_invalid_configuration_exits_1(self):
        empty = tempfile.NamedTemporaryFile(delete=False)
        empty.close()
        self.addCleanup(os.unlink, empty.name)
        cases = [
            (["--port", "abc"], None),
            (["--max-locks", "x"], None),
            (["--port", "70000"], None),
            (["--default-lease-ttl", "0"], None),
            (["--tls-cert", "/tmp/cert.pem"], None),
            (["--auth-token-file", empty.name], None),
            (["--auth-token-file", "/nonexistent/token"], None),
            (["--auto-release-on-disconnect=maybe"], None),
            (["--no-such-flag"], None),
            ([], {"DFLOCKD_PORT": "abc"}),
            ([], {"DFLOCKD_READ_TIMEOUT_S": "soon"}),
        ]
        for args, env in cases:
            r = self.run_binary(*args, env=env)
            self.assertEqual(r.returncode, 1, (args, env, r.stdout, r.stderr))
            self.assertTrue(r.stderr.strip() or r.stdout.strip(), (args, env))

    def test_unusable_tls_files_exit_1(self):
        r = self.run_binary("--port", "1", "--tls-cert", "/nonexistent.pem", "--tls-key",
                            "/nonexistent.key")
        self.assertEqual(r.returncode, 1)

    def test_port_in_use_exits_1(self):
        s = self.server()
        r = self.run_binary("--port", str(s.port))
        self.assertEqual(r.returncode, 1)

    def test_env_overrides_default_and_flag_overrides_env(self):
        s = self.server(env={"DFLOCKD_DEFAULT_LEASE_TTL_S": "44"})
        self.assertEqual(grant(self.conn(s).req("l", "k", "0"))[1], 44)
        s2 = self.server("--default-lease-ttl", "55", env={"DFLOCKD_DEFAULT_LEASE_TTL_S": "44"})
        self.assertEqual(grant(self.conn(s2).req("l", "k", "0"))[1], 55)

    def test_listener_log_line(self):
        s = self.server()
        self.assertIn("listening on 127.0.0.1:%d" % s.port, s.output())

    def test_debug_flag_and_env_boolean(self):
        self.server("--debug")
        self.server(env={"DFLOCKD_DEBUG": "yes", "DFLOCKD_AUTO_RELEASE_ON_DISCONNECT": "0"})


class Auth(ServerCase):
    def test_token_required_first(self):
        s = self.server("--auth-token", "s3cret")
        c = self.conn(s)
        t0 = time.monotonic()
        self.assertEqual(c.req("ping"), "error_auth")
        self.assertTrue(c.is_closed())
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)

    def test_wrong_token(self):
        s = self.server("--auth-token", "s3cret")
        c = self.conn(s)
        self.assertEqual(c.req("auth", "_", "s3cre"), "error_auth")
        self.assertTrue(c.is_closed())

    def test_right_token_then_commands(self):
        s = self.server("--auth-token", "s3cret")
        c = self.conn(s)
        self.assertEqual(c.req("auth", "anything", "  s3cret \t"), "ok")
        self.assertEqual(c.req("ping"), "ok")
        grant(c.req("l", "k", "0"))
        self.assertEqual(c.req("auth", "_", "s3cret"), "error")  # a second auth

    def test_token_file_and_env(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("from-file\n")
        self.addCleanup(os.unlink, f.name)
        s = self.server("--auth-token-file", f.name)
        self.assertEqual(self.conn(s).req("auth", "_", "from-file"), "ok")
        s2 = self.server(env={"DFLOCKD_AUTH_TOKEN": "from-env"})
        self.assertEqual(self.conn(s2).req("auth", "_", "from-env"), "ok")

    def test_auth_without_configured_token(self):
        s = self.server()
        c = self.conn(s)
        self.assertEqual(c.req("auth", "_", "whatever"), "error")
        self.assertEqual(c.req("ping"), "ok")


class Tls(ServerCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.cert, cls.key = make_self_signed_cert(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def test_tls_session(self):
        s = self.server("--tls-cert", self.cert, "--tls-key", self.key)
        c = self.conn(s, tls_context=self.context())
        token, _ = grant(c.req("l", "k", "0"))
        self.assertEqual(c.req("r", "k", token), "ok")
        sub = self.conn(s, tls_context=self.context())
        sub.req("listen", "t.>", "")
        self.assertEqual(c.req("signal", "t.x", "p" * 60000), "ok 1")
        self.assertEqual(sub.next_push(), ("t.x", "p" * 60000))
        self.assertIn("(TLS)", s.output())

    def test_tls_with_auth(self):
        s = self.server("--tls-cert", self.cert, "--tls-key", self.key, "--auth-token", "t")
        c = self.conn(s, tls_context=self.context())
        self.assertEqual(c.req("auth", "_", "t"), "ok")
        self.assertEqual(c.req("ping"), "ok")

    def test_plaintext_client_rejected(self):
        s = self.server("--tls-cert", self.cert, "--tls-key", self.key)
        c = self.conn(s)
        c.send("ping")
        self.assertTrue(c.is_closed(5))
        # The server is unharmed.
        self.assertEqual(self.conn(s, tls_context=self.context()).req("ping"), "ok")

    def test_tls_disconnect_while_waiting(self):
        s = self.server("--tls-cert", self.cert, "--tls-key", self.key)
        a = self.conn(s, tls_context=self.context())
        token, _ = grant(a.req("l", "k", "0"))
        b = s.conn(tls_context=self.context())
        b.send("l", "k", "30")
        c = self.conn(s, tls_context=self.context())
        time.sleep(0.1)
        c.send("l", "k", "30")
        time.sleep(0.1)
        b.close()
        time.sleep(0.3)
        a.req("r", "k", token)
        grant(c.reply())


class Timeouts(ServerCase):
    def test_idle_read_timeout(self):
        s = self.server("--read-timeout", "1")
        c = self.conn(s)
        self.assertEqual(c.req("ping"), "ok")
        t0 = time.monotonic()
        self.assertEqual(c.read_line(timeout=5), "error")
        self.assertTrue(c.is_closed())
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_activity_keeps_connection(self):
        s = self.server("--read-timeout", "1")
        c = self.conn(s)
        for _ in range(6):
            time.sleep(0.4)
            self.assertEqual(c.req("ping"), "ok")

    def test_no_read_timeout_while_waiting(self):
        # The holder idles too and gets closed; its hold must outlive that.
        s = self.server("--read-timeout", "1", "--auto-release-on-disconnect=false")
        a, b = self.conn(s), self.conn(s)
        grant(a.req("l", "k", "0 60"))
        self.assertEqual(b.req("l", "k", "3", timeout=6), "timeout")
        self.assertEqual(b.req("ping"), "ok")

    def test_half_request_times_out(self):
        s = self.server("--read-timeout", "1")
        c = self.conn(s)
        c.send_raw("l\nk")
        self.assertEqual(c.read_line(timeout=5), "error")
        self.assertTrue(c.is_closed())

    def test_write_timeout_closes_stuck_reader(self):
        s = self.server("--write-timeout", "1", "--read-timeout", "30")
        stuck = socket.create_connection((s.host, s.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.addCleanup(stuck.close)
        # Pipeline many stats requests and never read: the server's writes stall.
        big = "".join("stats\n_\n_\n" for _ in range(2000))
        ok = self.conn(s)
        for i in range(200):
            ok.req("l", "key-%03d-%s" % (i, "x" * 200), "0")
        stuck.setblocking(False)
        try:
            stuck.sendall(big.encode())
        except BlockingIOError:
            pass
        deadline = time.monotonic() + 8
        closed = False
        while time.monotonic() < deadline and not closed:
            time.sleep(0.5)
            stats = json.loads(ok.req("stats")[3:])
            closed = stats["connections"] == 1
        self.assertTrue(closed, "stuck connection was not closed")


class Limits(ServerCase):
    def test_max_locks_counts_idle(self):
        s = self.server("--max-locks", "2")
        c = self.conn(s)
        t, _ = grant(c.req("l", "a", "0"))
        c.req("r", "a", t)
        grant(c.req("sl", "b", "0 2"))
        self.assertEqual(c.req("l", "c", "0"), "error_max_locks")
        self.assertEqual(c.req("e", "c", ""), "error_max_locks")
        grant(c.req("l", "a", "0"))

    def test_max_waiters(self):
        s = self.server("--max-waiters", "1")
        a, b, c = self.conn(s), self.conn(s), self.conn(s)
        grant(a.req("l", "k", "0"))
        b.send("l", "k", "10")
        time.sleep(0.1)
        self.assertEqual(c.req("l", "k", "10"), "error_max_waiters")
        self.assertEqual(c.req("e", "k", ""), "error_max_waiters")

    def test_max_connections(self):
        s = self.server("--max-connections", "2")
        a, b = self.conn(s), self.conn(s)
        self.assertEqual(a.req("ping"), "ok")
        self.assertEqual(b.req("ping"), "ok")
        c = self.conn(s)
        self.assertTrue(c.is_closed())
        self.assertEqual(c.buf, b"")
        a.close()
        time.sleep(0.2)
        self.assertEqual(self.conn(s).req("ping"), "ok")

    def test_max_connections_per_ip(self):
        s = self.server("--max-connections-per-ip", "1")
        a = self.conn(s)
        self.assertEqual(a.req("ping"), "ok")
        self.assertTrue(self.conn(s).is_closed())

    def test_max_subscriptions(self):
        s = self.server("--max-subscriptions", "1")
        c = self.conn(s)
        self.assertEqual(c.req("listen", "a", ""), "ok")
        self.assertEqual(c.req("listen", "a", ""), "ok")
        self.assertEqual(c.req("listen", "b", ""), "error")

    def test_gc_ends_limit_mismatch(self):
        s = self.server("--gc-interval", "1", "--gc-max-idle", "1")
        c = self.conn(s)
        t, _ = grant(c.req("sl", "p", "0 2"))
        c.req("sr", "p", t)
        self.assertEqual(c.req("sl", "p", "0 3"), "error_limit_mismatch")
        time.sleep(2.5)
        grant(c.req("sl", "p", "0 3"))

    def test_auto_release_off(self):
        s = self.server("--auto-release-on-disconnect=false")
        a, b = s.conn(), self.conn(s)
        grant(a.req("l", "k", "0 2"))
        b.send("l", "k", "10")
        a.close()
        self.assertTrue(b.no_data(1.0))  # still held after the disconnect
        grant(b.reply(timeout=5))       # until the lease runs out

    def test_slow_subscriber_evicted_and_lock_released(self):
        s = self.server("--signal-queue-size", "4")
        slow = socket.create_connection((s.host, s.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.addCleanup(slow.close)
        slow.sendall(b"l\nheld\n0\nlisten\nfeed\n\n")
        time.sleep(0.2)
        waiter = self.conn(s)
        waiter.send("l", "held", "20")
        pub = self.conn(s)
        payload = "x" * 60000
        counts = [pub.req("signal", "feed", payload) for _ in range(400)]
        self.assertIn("ok 0", counts)
        grant(waiter.reply(timeout=5))


class Shutdown(ServerCase):
    def test_sigterm_drains(self):
        s = Server("--shutdown-timeout", "5").start()
        self.addCleanup(s.stop)
        holder, waiter, idle = s.conn(), s.conn(), s.conn()
        grant(holder.req("l", "k", "0"))
        waiter.send("l", "k", "30")
        self.assertEqual(idle.req("ping"), "ok")
        time.sleep(0.1)
        s.signal(signal.SIGTERM)
        self.assertEqual(waiter.reply(timeout=3), "error_draining")
        self.assertTrue(waiter.is_closed())
        self.assertEqual(idle.req("ping"), "error_draining")
        self.assertTrue(idle.is_closed())
        with self.assertRaises(OSError):
            for _ in range(20):
                socket.create_connection((s.host, s.port), timeout=0.5).close()
                time.sleep(0.05)
        self.assertEqual(holder.req("n", "k", "0" * 32), "error_draining")
        self.assertEqual(s.proc.wait(5), 0)

    def test_shutdown_timeout_force_closes(self):
        s = Server("--shutdown-timeout", "1").start()
        self.addCleanup(s.stop)
        idle = s.conn()
        self.assertEqual(idle.req("ping"), "ok")
        s.signal(signal.SIGINT)
        t0 = time.monotonic()
        self.assertTrue(idle.is_closed(4))
        self.assertEqual(s.proc.wait(5), 0)
        self.assertGreater(time.monotonic() - t0, 0.8)


class Fences(ServerCase):
    def test_fence_state_file_keeps_fences_monotonic(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "fence")
        s = Server("--fence-state-file", path).start()
        t1, _ = grant(s.conn().req("l", "k", "0"))
        self.assertIsNone(s.stop_cleanly())
        with open(path) as f:
            stored, mark = f.read().split("\n", 1)
        self.assertGreater(int(stored), fence(t1))
        self.assertEqual(mark, "clean\n")  # stopped cleanly
        # Pretend the clock went far back: a mark far ahead must still be respected.
        with open(path, "w") as f:
            f.write("%d\n" % (1 << 62))
        s2 = Server("--fence-state-file", path).start()
        t2, _ = grant(s2.conn().req("l", "k", "0"))
        self.assertIsNone(s2.stop_cleanly())
        self.assertGreaterEqual(fence(t2), 1 << 62)

    def test_corrupt_fence_file_refuses_to_start(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("garbage")
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([binary_path(), "--fence-state-file", f.name, "--port", "1"],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)

    def test_fences_increase_across_restarts_without_file(self):
        s = Server().start()
        t1, _ = grant(s.conn().req("l", "k", "0"))
        self.assertIsNone(s.stop_cleanly())
        s2 = Server().start()
        t2, _ = grant(s2.conn().req("l", "k", "0"))
        self.assertIsNone(s2.stop_cleanly())
        self.assertGreater(fence(t2), fence(t1))


class HostileInput(ServerCase):
    def test_garbage_never_disturbs_other_clients(self):
        s = self.server()
        good = self.conn(s)
        token, _ = grant(good.req("l", "precious", "0 300"))
        good.req("listen", "news.>", "")
        rng = random.Random(1234)
        stop = threading.Event()
        errors = []

        def vandal(seed):
            r = random.Random(seed)
            while not stop.is_set():
                try:
                    with socket.create_connection((s.host, s.port), timeout=2) as v:
                        kind = r.randrange(4)
                        if kind == 0:
                            v.sendall(bytes(r.randrange(256) for _ in range(r.randrange(1, 2000))))
                        elif kind == 1:
                            v.sendall(b"l\n" + b"k" * r.randrange(257, 100000) + b"\n1\n")
                        elif kind == 2:
                            v.sendall(b"l\nprecious\n")  # half a request, then gone
                        else:
                            v.sendall(b"r\nprecious\n" + b"0" * 32 + b"\n" + b"\x00\xff\r\n" * 50)
                        v.settimeout(0.2)
                        try:
                            v.recv(65536)
                        except OSError:
                            pass
                except OSError:
                    pass

        def worker(n):
            try:
                with Conn(s.host, s.port) as c:
                    for i in range(30):
                        k = "w%d-%d" % (n, i % 3)
                        t, _ = grant(c.req("l", k, "5"))
                        assert c.req("n", k, t) == "ok 33"
                        assert c.req("r", k, t) == "ok"
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        vandals = [threading.Thread(target=vandal, args=(rng.random(),)) for _ in range(4)]
        workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in vandals + workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        for t in vandals:
            t.join()
        self.assertEqual(errors, [])
        # The precious lock is still ours, the subscription still works.
        self.assertEqual(good.req("n", "precious", token), "ok 33")
        pub = self.conn(s)
        self.assertEqual(pub.req("signal", "news.today", "still here"), "ok 1")
        self.assertEqual(good.next_push(), ("news.today", "still here"))
        self.assertIsNone(s.proc.poll())

    def test_flood_of_pipelined_requests(self):
        s = self.server()
        c = self.conn(s)
        n = 20000
        c.send_raw("ping\n_\n_\n" * n)
        for _ in range(n):
            self.assertEqual(c.reply(), "ok")


if __name__ == "__main__":
    unittest.main()
