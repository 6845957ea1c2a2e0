#!/usr/bin/python3
"""dflockctl against real servers: shell commands under a lock never overlap, exit
statuses pass through, semaphores cap concurrency, stats/emit/listen/ping work, and
keys are routed exactly as zlib's crc32 (the Python client's) routes them.

    DFLOCKD_BIN=build/dflockd tests/integration/test_dflockctl.py build/tools/dflockctl [-v]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dflockd_testlib import Server, grant, unique, wait_until  # noqa: E402

CTL = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.environ.get("DFLOCKCTL_BIN")


def held_keys(server):
    """Keys the server reports as held (locks)."""
    return {entry["key"] for entry in server.stats()["locks"]}


def known_keys(server):
    """Every lock key the server knows, held or idle."""
    body = server.stats()
    return {e["key"] for e in body["locks"]} | {e["key"] for e in body["idle_locks"]}


def listeners(server):
    """Subscriptions the server counts, over all patterns."""
    return sum(ch["listeners"] for ch in server.stats()["signal_channels"])


def ctl_for(servers):
    """The dflockctl command line that shards over `servers`."""
    args = [CTL]
    for s in servers:
        args += ["--server", "127.0.0.1:%d" % s.port]
    return args


class CtlCase(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()
        self.addr = "127.0.0.1:%d" % self.server.port
        self.tmp = tempfile.TemporaryDirectory()
        self.procs = []  # background dflockctl processes, stopped even when a check fails

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.tmp.cleanup()
        if self.server.proc.returncode == -9:  # killed on purpose by the test
            self.server.stop()
            return
        problem = self.server.stop_cleanly()
        self.assertIsNone(problem, problem)

    def ctl(self, *args, timeout=60, **kw):
        return subprocess.run([CTL, "--server", self.addr, *args], capture_output=True,
                              text=True, timeout=timeout, **kw)

    def spawn(self, *args):
        return subprocess.Popen([CTL, "--server", self.addr, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run_at_once(self, count, args, env):
        """Starts `count` dflockctl processes together; checks that all exited 0."""
        procs = [subprocess.Popen([CTL, "--server", self.addr, *args], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(count)]
        self.procs += procs
        results = [p.communicate(timeout=90) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0] * count, results)


class LockCommand(CtlCase):
    def test_twenty_shell_processes_never_overlap(self):
        d = self.tmp.name
        counter = os.path.join(d, "counter")
        with open(counter, "w") as f:
            f.write("0\n")
        # mkdir is atomic: a second command inside the critical section fails it.
        script = ('mkdir "$D/inside" 2>/dev/null || echo overlap >> "$D/errors"; '
                  'n=$(cat "$D/counter"); sleep 0.02; echo $((n + 1)) > "$D/counter"; '
                  'rmdir "$D/inside"')
        env = dict(os.environ, D=d)
        self.run_at_once(20, ["lock", "shared-counter", "--timeout", "60", "--", "sh", "-c",
                              script], env)
        self.assertFalse(os.path.exists(os.path.join(d, "errors")), "commands overlapped")
        with open(counter) as f:
            self.assertEqual(f.read().strip(), "20")
        self.assertEqual(held_keys(self.server), set())

    def test_exit_status_passes_through(self):
        self.assertEqual(self.ctl("lock", unique(), "--", "sh", "-c", "exit 7").returncode, 7)
        self.assertEqual(self.ctl("lock", unique(), "--", "true").returncode, 0)
        killed = self.ctl("lock", unique(), "--", "sh", "-c", "kill -KILL $$")
        self.assertEqual(killed.returncode, 128 + signal.SIGKILL)
        missing = self.ctl("lock", unique(), "--", "/nonexistent/command")
        self.assertEqual(missing.returncode, 127)
        # The command sees the child's stdout directly.
        out = self.ctl("lock", unique(), "--", "echo", "hello")
        self.assertEqual(out.stdout, "hello\n")

    def test_a_held_lock_times_out_with_status_3(self):
        key = unique()
        holder = self.server.conn()
        grant(holder.req("l", key, "10"))
        start = time.monotonic()
        r = self.ctl("lock", key, "--timeout", "1", "--", "true")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        self.assertIn("not acquired", r.stderr)
        self.assertEqual(self.ctl("lock", key, "-t", "0", "--", "true").returncode, 3)
        holder.close()
        self.assertEqual(self.ctl("lock", key, "-t", "5", "--", "true").returncode, 0)

    def test_the_lease_is_renewed_while_the_command_runs(self):
        key = unique()
        # Renewal runs every max(1 s, lease x 0.5), as in the other clients.
        proc = self.spawn("lock", key, "--lease", "2", "--", "sleep", "5")
        self.procs.append(proc)
        self.assertTrue(wait_until(lambda: key in held_keys(self.server)))
        time.sleep(4.2)  # two lease periods: only renewal keeps it
        with self.server.conn() as c:
            self.assertEqual(c.req("l", key, "0"), "timeout")
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn(key, held_keys(self.server))

    def test_sigterm_stops_the_command_and_releases(self):
        key = unique()
        started = os.path.join(self.tmp.name, key)
        proc = self.spawn("lock", key, "--", "sh", "-c", 'touch "$0"; exec sleep 30', started)
        self.procs.append(proc)
        # The command runs: dflockctl holds the lock and handles signals now. (A signal
        # between the grant and that point ends dflockctl itself, by design: the
        # server drops the hold with the connection.)
        self.assertTrue(wait_until(lambda: os.path.exists(started)))
        self.assertIn(key, held_keys(self.server))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM)
        self.assertTrue(wait_until(lambda: key not in held_keys(self.server), 5))

    def test_a_lost_lock_stops_the_command_with_status_4(self):
        key = unique()
        proc = self.spawn("lock", key, "--lease", "2", "--", "sleep", "30")
        self.procs.append(proc)
        self.assertTrue(wait_until(lambda: key in held_keys(self.server)))
        self.server.proc.kill()  # the server vanishes: the next renewal fails
        self.server.proc.wait()
        _, err = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 4, err)
        self.assertIn("lost", err)

    def test_bad_keys_are_refused_before_connecting(self):
        r = self.ctl("lock", "bad key\nx", "--", "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())


class SemCommand(CtlCase):
    def test_never_more_than_the_limit_at_once(self):
        d = self.tmp.name
        script = ('touch "$D/in.$$"; ls "$D" | grep -c "^in\\." > "$D/seen.$$"; sleep 0.3; '
                  'rm "$D/in.$$"')
        env = dict(os.environ, D=d)
        self.run_at_once(6, ["sem", "pool", "-n", "2", "--timeout", "60", "--", "sh", "-c",
                             script], env)
        seen = []
        for name in os.listdir(d):
            if name.startswith("seen."):
                with open(os.path.join(d, name)) as f:
                    seen.append(int(f.read()))
        self.assertEqual(len(seen), 6)
        self.assertLessEqual(max(seen), 2, seen)

    def test_a_limit_mismatch_is_an_error(self):
        key = unique()
        holder = self.server.conn()
        grant(holder.req("sl", key, "5 3"))
        r = self.ctl("sem", key, "-n", "2", "-t", "0", "--", "true")
        self.assertNotIn(r.returncode, (0, 3))
        self.assertIn("limit", r.stderr.lower())


class Queries(CtlCase):
    def test_stats_json_and_table(self):
        key = unique("stats")
        holder = self.server.conn()
        grant(holder.req("l", key, "10"))
        r = self.ctl("stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        body = json.loads(r.stdout)
        self.assertIn(key, [e["key"] for e in body["locks"]])
        table = self.ctl("stats")
        self.assertEqual(table.returncode, 0)
        self.assertIn(key, table.stdout)

    def test_ping(self):
        r = self.ctl("ping")
        self.assertEqual(r.returncode, 0)
        self.assertIn(self.addr, r.stdout)
        dead = subprocess.run([CTL, "--server", "127.0.0.1:1", "--connect-timeout", "2", "ping"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(dead.returncode, 1)
        self.assertTrue(dead.stderr.strip() or dead.stdout.strip())

    def test_emit_and_listen(self):
        listener = self.spawn("listen", "events.*", "--count", "2")
        grouped = self.spawn("listen", "events.>", "--group", "g", "--count", "1")
        self.procs += [listener, grouped]
        self.assertTrue(wait_until(lambda: listeners(self.server) >= 2),
                        "listeners never subscribed")
        first = self.ctl("emit", "events.login", "alice smith")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(first.stdout.strip(), "2")  # the plain listener and the group
        second = self.ctl("emit", "events.logout", "bob")
        self.assertEqual(second.stdout.strip(), "1")  # the group's only member has left
        out, _ = listener.communicate(timeout=10)
        self.assertEqual(out.splitlines(), ["events.login alice smith", "events.logout bob"])
        out, _ = grouped.communicate(timeout=10)
        self.assertEqual(out.splitlines(), ["events.login alice smith"])
        self.assertEqual(self.ctl("emit", "nobody.here", "x").stdout.strip(), "0")

    def test_help_reads_like_a_man_page(self):
        r = subprocess.run([CTL, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for section in ("EXAMPLES", "SHARDING", "ENVIRONMENT", "EXIT STATUS", "lock", "sem",
                        "stats", "emit", "listen", "ping"):
            self.assertIn(section, r.stdout)

    def test_servers_from_the_environment(self):
        env = dict(os.environ, DFLOCKCTL_SERVERS=self.addr)
        r = subprocess.run([CTL, "ping"], capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.addr, r.stdout)


class Sharding(unittest.TestCase):
    def test_keys_go_where_zlib_crc32_sends_them(self):
        servers = [Server().start() for _ in range(3)]
        try:
            args = ctl_for(servers)
            keys = ["shard-%d" % i for i in range(24)] + ["user:42", "ünïcode-key"]
            for key in keys:  # (the test library reads bytes as latin-1)
                r = subprocess.run(args + ["lock", key, "--", "true"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
            for index, server in enumerate(servers):
                expected = {k.encode().decode("latin-1") for k in keys
                            if zlib.crc32(k.encode()) % 3 == index}
                self.assertEqual(known_keys(server), expected, "server %d" % index)
        finally:
            for s in servers:
                s.stop()

    def test_signals_reach_a_listener_on_every_shard_once(self):
        servers = [Server().start() for _ in range(2)]
        try:
            args = ctl_for(servers)
            # Two channels that crc32 sends to different servers.
            channels = {}
            for i in range(100):
                channels.setdefault(zlib.crc32(("ch.%d" % i).encode()) % 2, "ch.%d" % i)
            self.assertEqual(len(channels), 2)
            listener = subprocess.Popen(args + ["listen", "ch.*", "--count", "4"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                self.assertTrue(wait_until(lambda: all(listeners(s) == 1 for s in servers)))
                for shard in (0, 1):
                    r = subprocess.run(args + ["emit", channels[shard], "p%d" % shard],
                                       capture_output=True, text=True, timeout=30)
                    self.assertEqual(r.stdout.strip(), "1", r.stderr)
                    with servers[shard].conn() as c:  # it went to the channel's shard
                        self.assertEqual(c.req("signal", channels[shard], "direct"), "ok 1")
                out, err = listener.communicate(timeout=15)
            finally:
                if listener.poll() is None:
                    listener.kill()
                    listener.communicate()
            self.assertEqual(sorted(out.splitlines()),
                             sorted(["%s p0" % channels[0], "%s p1" % channels[1],
                                     "%s direct" % channels[0], "%s direct" % channels[1]]),
                             err)
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    if not CTL:
        sys.exit("usage: test_dflockctl.py PATH_TO_DFLOCKCTL (with DFLOCKD_BIN set)")
    unittest.main()
