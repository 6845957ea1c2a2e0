#!/usr/bin/python3
"""Durable mode (--etcd-endpoints) end to end: three dflockd replicas of one shard on a
three-member etcd cluster on loopback (Debian's etcd), real sockets, every failure the
issue lists. Each test starts its own etcd cluster and replicas (~3 s of set-up).

    tests/ha/test_ha.py [TestCase[.test]]   (DFLOCKD_BIN = the dflockd binary)
"""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from dflockd_testlib import (Conn, Server, binary_path, cluster_view, fence, free_ports, grant,  # noqa: E402
                             leader_among, server_metrics, unique, wait_until)
from etcd_cluster import EtcdCluster, wait_port  # noqa: E402

TTL = 2  # --election-ttl: a dead leader is replaced within about this


def try_req(server, cmd, key, arg, timeout=10.0):
    """One request on a fresh connection: the reply line, or None if the connection
    failed or closed first."""
    try:
        with Conn(server.host, server.port, timeout=timeout) as c:
            return c.req(cmd, key, arg, timeout=timeout)
    except (OSError, EOFError, AssertionError, TimeoutError):
        return None


class Shard:
    """Replicas of one durable shard."""

    def __init__(self, etcd, n=3, extra=()):
        self.prefix = "/dflockd-test/%d" % time.monotonic_ns()
        self.replicas = [Server("--etcd-endpoints", etcd.endpoints, "--etcd-prefix", self.prefix,
                                "--election-ttl", str(TTL), *extra) for _ in range(n)]
        self.dead = set()

    def start(self):
        for r in self.replicas:
            r.start()
        assert wait_until(self.leader, timeout=15), "no leader elected"
        # Every follower knows the leader (forwarding works through any replica).
        assert wait_until(lambda: all(cluster_view(r)["leader"] for r in self.live()), timeout=10)
        return self

    def live(self):
        return [r for i, r in enumerate(self.replicas) if i not in self.dead]

    def leader(self):
        return leader_among(self.live())

    def wait_agreed(self, timeout=10):
        """Until every live replica names the same leader (after a failover)."""
        def agreed():
            views = [cluster_view(r) for r in self.live()]
            leaders = {v["leader"] for v in views}
            return len(leaders) == 1 and "" not in leaders and \
                sum(v["role"] == "leader" for v in views) == 1
        assert wait_until(agreed, timeout=timeout), [cluster_view(r) for r in self.live()]

    def kill(self, replica, signo=signal.SIGKILL):
        replica.proc.send_signal(signo)
        replica.proc.wait()
        self.dead.add(self.replicas.index(replica))

    def stop(self):
        problems = []
        for i, r in enumerate(self.replicas):
            if i in self.dead:
                r.stop()
                continue
            p = r.stop_cleanly()
            if p:
                problems.append(p)
        return problems


class DurableTest(unittest.TestCase):
    def setUp(self):
        self.etcd = EtcdCluster().start()
        self.shard = Shard(self.etcd).start()

    def tearDown(self):
        problems = self.shard.stop()
        self.etcd.stop()
        self.assertEqual(problems, [])

    def first_grant_after(self, t0, servers, timeout=15):
        """Seconds from t0 until a fresh key is granted through one of `servers`, and
        that grant's fence."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in servers:
                reply = try_req(s, "l", unique("probe"), "0 5", timeout=3)
                if reply and reply.startswith("ok "):
                    return time.monotonic() - t0, fence(reply.split()[1])
            time.sleep(0.05)
        self.fail("no grant within %ss" % timeout)


class LeaderKilled(DurableTest):
    def test_holds_survive_and_fences_rise(self):
        leader = self.shard.leader()
        f1, f2 = [r for r in self.shard.live() if r is not leader]
        key, sem = unique("held"), unique("sem")
        # Held through a follower (forwarded) and on the leader itself, waited for
        # through the other follower, plus a semaphore slot over REST through f2.
        a = f1.conn()
        token, lease = grant(a.req("l", key, "0 30"))
        fences = [fence(token)]
        s_token, _ = grant(leader.conn().req("sl", sem, "0 2 30"))
        fences.append(fence(s_token))
        waiter = f2.conn()
        waiter.send("l", key, "30 30")
        time.sleep(0.3)
        self.assertEqual(waiter.no_data(0.2), True)

        t0 = time.monotonic()
        self.shard.kill(leader)
        took, first = self.first_grant_after(t0, [f1, f2])
        print("\n  first grant %.2f s after the leader was killed (election TTL %d s)" % (took, TTL))
        self.assertLess(took, 4.0)
        self.assertGreater(first, max(fences), "a new term's fence must be above every earlier one")

        # The waiter's queue place was on the dead leader: it is told (an error, or
        # its connection ends) and re-queues, as docs/ha.md says.
        reply = None
        try:
            reply = waiter.reply(timeout=10)
        except (EOFError, OSError, AssertionError):
            pass
        self.assertFalse(reply and reply.startswith("ok"), reply)

        # The hold survived: a contender keeps timing out, the holder renews by token
        # from a new connection through the other follower, then releases.
        self.shard.wait_agreed()
        for _ in range(3):
            self.assertEqual(try_req(f1, "l", key, "0"), "timeout")
            time.sleep(0.5)
        holder = f2.conn()
        self.assertEqual(holder.req("n", key, token + " 30"), "ok 30")
        grant(f2.conn().req("sl", sem, "0 2 5"))  # the second slot (kept: the conn stays)
        self.assertEqual(try_req(f1, "sl", sem, "0 2 5"), "timeout")  # slot 1 kept: full
        requeued = f1.conn()
        requeued.send("l", key, "30 30")
        time.sleep(0.2)
        self.assertEqual(holder.req("r", key, token), "ok")
        t2, _ = grant(requeued.reply(timeout=10))
        self.assertGreater(fence(t2), max(fences + [first]))

    def test_orphaned_hold_expires_and_adopted_hold_auto_releases(self):
        leader = self.shard.leader()
        f1, f2 = [r for r in self.shard.live() if r is not leader]
        k_orphan, k_adopt = unique("orphan"), unique("adopt")
        c = leader.conn()
        grant(c.req("l", k_orphan, "0 3"))
        adopt_token, _ = grant(c.req("l", k_adopt, "0 30"))
        self.shard.kill(leader)
        self.first_grant_after(time.monotonic(), [f1, f2])
        self.shard.wait_agreed()
        # Orphaned: nobody renews it, so it ends with its (restarted, full) lease.
        self.assertEqual(try_req(f1, "l", k_orphan, "0"), "timeout")
        got = try_req(f1, "l", k_orphan, "6 5")
        self.assertTrue(got and got.startswith("ok "), got)
        # Adopted by a renewal: from then on it auto-releases with that connection.
        adopter = f2.conn()
        self.assertEqual(adopter.req("n", k_adopt, adopt_token + " 30"), "ok 30")
        self.assertEqual(try_req(f1, "l", k_adopt, "0"), "timeout")
        adopter.close()
        got = try_req(f1, "l", k_adopt, "5 5")
        self.assertTrue(got and got.startswith("ok "), got)


class ClientFailover(DurableTest):
    """The client library (through dflockctl) reconnects and renews by token when the
    replica it held through loses its leader: the command runs to its end, held."""

    def test_dflockctl_keeps_its_lock_across_a_failover(self):
        ctl = os.environ.get("DFLOCKCTL_BIN")
        if not ctl:
            self.skipTest("set DFLOCKCTL_BIN to the dflockctl executable")
        leader = self.shard.leader()
        f1, f2 = [r for r in self.shard.live() if r is not leader]
        key = unique("ctl")
        started = os.path.join(self.etcd.dir, "started")
        proc = subprocess.Popen(
            [ctl, "--server", "%s:%d" % (f1.host, f1.port), "lock", key, "--lease", "6", "--durable",
             "--failover-server", "%s:%d" % (f2.host, f2.port), "--",
             "sh", "-c", "touch %s; sleep 9" % started],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if not wait_until(lambda: os.path.exists(started) or proc.poll() is not None, timeout=10) \
                or proc.poll() is not None:
            self.fail("dflockctl did not start the command: %r" % (proc.communicate(),))
        self.shard.kill(leader)
        seen = []
        while proc.poll() is None:
            reply = try_req(f2, "l", key, "0", timeout=5)
            seen.append(reply)
            self.assertFalse(reply and reply.startswith("ok"), "granted while dflockctl held it")
            time.sleep(0.3)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertIn("timeout", seen)  # the lock was seen held after the failover
        reply = try_req(f2, "l", key, "0 5")
        self.assertTrue(reply and reply.startswith("ok "), reply)


class PausedLeader(DurableTest):
    """SIGSTOP the leader past its election TTL while a fenced lock-set workload runs
    through every replica; SIGCONT it after another replica took over."""

    def test_paused_leader_cannot_grant_and_nothing_is_lost(self):
        leader = self.shard.leader()
        others = [r for r in self.shard.live() if r is not leader]
        replicas = self.shard.live()
        store = {"value": 0, "top": 0, "inside": 0}
        mutex = threading.Lock()
        stats = {"acked": 0, "stale": 0, "double": 0, "errors": 0, "after_takeover": 0}
        takeover = threading.Event()
        stop = threading.Event()

        def worker(i):
            conn = None
            n = i
            while not stop.is_set():
                try:
                    if conn is None:
                        r = replicas[n % len(replicas)]
                        n += 1
                        conn = Conn(r.host, r.port, timeout=15)
                    reply = conn.req("l", "set-counter", "10 3", timeout=15)
                    if not reply or not reply.startswith("ok "):
                        with mutex:
                            stats["errors"] += 1
                        conn.close()
                        conn = None
                        time.sleep(0.05)
                        continue
                    token = reply.split()[1]
                    f = fence(token)
                    with mutex:  # the fenced store: enter, read, write, leave
                        if store["inside"]:
                            stats["double"] += 1
                        store["inside"] += 1
                        if f < store["top"]:
                            stats["stale"] += 1
                        else:
                            store["top"] = f
                            store["value"] += 1
                            stats["acked"] += 1
                            if takeover.is_set():
                                stats["after_takeover"] += 1
                        store["inside"] -= 1
                    conn.req("r", "set-counter", token, timeout=15)
                except (OSError, EOFError, AssertionError, TimeoutError):
                    with mutex:
                        stats["errors"] += 1
                    if conn:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
            if conn:
                conn.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(9)]
        for t in threads:
            t.start()
        time.sleep(2)
        probe = leader.conn()
        leader.signal(signal.SIGSTOP)
        probe.send("l", unique("paused-probe"), "0 30")  # sits in the paused leader's socket
        try:
            new = wait_until(lambda: next((r for r in others if cluster_view(r)["role"] == "leader"),
                                          None), timeout=TTL * 4)
            self.assertIsNotNone(new, "no replica took over from the paused leader")
            takeover.set()
            time.sleep(1)
        finally:
            leader.signal(signal.SIGCONT)
        reply = None
        try:
            reply = probe.reply(timeout=10)
        except (EOFError, OSError, AssertionError):
            pass
        self.assertFalse(reply and reply.startswith("ok"),
                         "the paused leader granted after losing its term: %r" % reply)
        self.assertTrue(wait_until(lambda: cluster_view(leader)["role"] != "leader", timeout=5))
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(30)
        print("\n  lock-set across the pause: %s" % stats)
        self.assertEqual(stats["double"], 0)
        self.assertEqual(stats["stale"], 0)
        self.assertEqual(store["value"], stats["acked"])
        self.assertGreater(stats["acked"], 10)
        self.assertGreater(stats["after_takeover"], 0)


class EtcdLoss(DurableTest):
    def test_minority_lost_continues_majority_lost_refuses_then_recovers(self):
        replicas = self.shard.live()
        key = unique("held")
        holder = replicas[1].conn()
        token, _ = grant(holder.req("l", key, "0 60"))

        self.etcd.kill_member(0)  # the first endpoint of every replica
        took, _ = self.first_grant_after(time.monotonic(), replicas, timeout=10)
        print("\n  one etcd member of three killed: granting again after %.2f s" % took)

        self.etcd.kill_member(1)  # majority lost
        time.sleep(TTL + 1)
        deadline = time.monotonic() + 6
        refusals = 0
        while time.monotonic() < deadline:
            t = time.monotonic()
            reply = try_req(replicas[refusals % 3], "l", unique("nomajority"), "0 5", timeout=15)
            self.assertLess(time.monotonic() - t, 12, "a refusal must not hang")
            self.assertFalse(reply and reply.startswith("ok"), "granted without an etcd majority")
            refusals += 1
        self.assertGreater(refusals, 0)

        self.etcd.start_member(0)
        self.etcd.start_member(1)
        t0 = time.monotonic()
        took, _ = self.first_grant_after(t0, replicas, timeout=30)
        print("  majority back: granting again after %.2f s" % took)
        self.shard.wait_agreed()
        # The hold taken before the outage is still there, renewable by token.
        self.assertEqual(try_req(replicas[2], "l", key, "0"), "timeout")
        self.assertEqual(try_req(replicas[0], "n", key, token + " 60"), "ok 60")


class RaftLeaderEndpoint(unittest.TestCase):
    def test_calls_go_to_the_etcd_leader_whatever_the_endpoint_order(self):
        with EtcdCluster() as etcd:
            lead = etcd.leader_endpoint()
            others = [e for e in etcd.endpoints.split(",") if e != lead]
            r = Server("--etcd-endpoints", ",".join(others + [lead]), "--etcd-prefix",
                       "/dflockd-test/raft-%d" % time.monotonic_ns(), "--election-ttl", str(TTL)).start()
            try:
                self.assertTrue(wait_until(lambda: cluster_view(r)["etcd"]["endpoint"] == lead, timeout=10),
                                (lead, cluster_view(r)))
            finally:
                self.assertIsNone(r.stop_cleanly())


class CommittedWatch(DurableTest):
    def test_watchers_see_committed_changes_only(self):
        import grpc
        from dflockd_testlib import grpc_stubs
        pb, rpc = grpc_stubs()
        leader = self.shard.leader()
        events, lock = [], threading.Lock()
        channel = grpc.insecure_channel("127.0.0.1:%d" % leader.grpc_port)
        stream = rpc.DflockdStub(channel).Watch(pb.WatchRequest(pattern="w.>"))

        def held_in_etcd():
            try:
                return self.etcd.stored_records(self.shard.prefix)
            except subprocess.CalledProcessError:
                return None  # no etcd majority

        def collect():
            try:
                for e in stream:
                    # Only the first key's grant is looked up (with no etcd majority a
                    # lookup would stall the reader).
                    stored = held_in_etcd() if (e.event, e.key) == ("granted", "w.ok") else None
                    with lock:
                        events.append((e.event, e.key, stored))
            except grpc.RpcError:
                pass
        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        self.assertTrue(wait_until(lambda: ("snapshot_done", "", None) in events, timeout=5))
        c = leader.conn()
        token, _ = grant(c.req("l", "w.ok", "0 30"))
        self.assertTrue(wait_until(lambda: any(e[:2] == ("granted", "w.ok") for e in events), timeout=5))
        with lock:
            (seen,) = [e for e in events if e[:2] == ("granted", "w.ok")]
        # By the time the watcher heard of the grant, etcd had it.
        self.assertTrue(any(token in k for k in seen[2]), seen[2])

        # No etcd majority: the engine grants, the write fails, the reply is an error
        # and the watcher never sees that grant.
        self.etcd.kill_member(1)
        self.etcd.kill_member(2)
        reply = try_req(leader, "l", "w.lost", "0 30", timeout=15)
        self.assertFalse(reply and reply.startswith("ok"), reply)
        time.sleep(1)
        with lock:
            self.assertNotIn("w.lost", [e[1] for e in events if e[0] == "granted"], events)
        stream.cancel()
        channel.close()
        self.etcd.start_member(1)
        self.etcd.start_member(2)
        self.etcd.wait_healthy()


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def netns_available():
    if os.geteuid() != 0:
        return False
    name = "dfl-probe-%d" % os.getpid()
    try:
        run("ip", "netns", "add", name)
        run("ip", "netns", "del", name)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


@unittest.skipUnless(netns_available(), "needs root and network namespaces (ip netns)")
class Partition(unittest.TestCase):
    """The leader runs in a network namespace joined to the host by a veth pair; taking
    the link down cuts it off from etcd (and from the other replicas)."""

    HOST_IP, NS_IP = "10.231.77.1", "10.231.77.2"

    def setUp(self):
        tag = "%d" % (os.getpid() % 100000)
        self.ns, self.veth_host, self.veth_ns = "dfl-" + tag, "dflh" + tag, "dfln" + tag
        run("ip", "netns", "add", self.ns)
        run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        run("ip", "link", "set", self.veth_ns, "netns", self.ns)
        run("ip", "addr", "add", self.HOST_IP + "/30", "dev", self.veth_host)
        run("ip", "link", "set", self.veth_host, "up")
        self.in_ns("ip", "addr", "add", self.NS_IP + "/30", "dev", self.veth_ns)
        self.in_ns("ip", "link", "set", self.veth_ns, "up")
        self.in_ns("ip", "link", "set", "lo", "up")
        self.etcd = EtcdCluster(extra_client_host=self.HOST_IP).start()
        self.prefix = "/dflockd-test/partition-%d" % time.monotonic_ns()
        self.isolated = None
        self.log = None
        self.others = []

    def in_ns(self, *cmd):
        run("ip", "netns", "exec", self.ns, *cmd)

    def tearDown(self):
        if self.isolated and self.isolated.poll() is None:
            self.isolated.kill()
            self.isolated.wait()
        for o in self.others:
            o.stop()
        self.etcd.stop()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True)

    def test_cut_off_leader_steps_down_and_rejoins_as_follower(self):
        port, http_port = free_ports(2)
        endpoints = self.etcd.endpoints_on(self.HOST_IP)
        self.log = open(os.path.join(self.etcd.dir, "isolated.log"), "wb")
        self.isolated = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, binary_path(), "--host", self.NS_IP, "--port", str(port),
             "--http-port", str(http_port), "--grpc-port", "0", "--etcd-endpoints", endpoints,
             "--etcd-prefix", self.prefix, "--election-ttl", str(TTL)],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.assertTrue(wait_port(self.NS_IP, port))
        isolated = Server()  # only for its host/port fields
        isolated.host, isolated.port, isolated.http_port = self.NS_IP, port, http_port
        self.assertTrue(wait_until(lambda: cluster_view(isolated)["role"] == "leader", timeout=10))
        # The others bind the host end of the veth, so the isolated one can reach them
        # once the link is back.
        for _ in range(2):
            o = Server("--etcd-endpoints", self.etcd.endpoints_on(self.HOST_IP), "--etcd-prefix",
                       self.prefix, "--election-ttl", str(TTL))
            o.host = self.HOST_IP
            o._pick_ports = lambda o=o: None
            o.port, o.grpc_port, o.http_port = free_ports(3)
            o.args = [binary_path(), "--host", self.HOST_IP, "--port", str(o.port), "--grpc-port",
                      str(o.grpc_port), "--http-port", str(o.http_port)] + o.extra_args
            o.start()
            self.others.append(o)
        key = unique("held")
        holder = Conn(self.NS_IP, port)  # kept open: the hold must not auto-release
        token, _ = grant(holder.req("l", key, "0 60"))

        self.in_ns("ip", "link", "set", self.veth_ns, "down")  # the partition
        t0 = time.monotonic()
        new = wait_until(lambda: next((o for o in self.others if cluster_view(o)["role"] == "leader"),
                                      None), timeout=TTL * 4)
        self.assertIsNotNone(new, "no replica took over")
        stepped = wait_until(lambda: b"stepping down" in open(self.log.name, "rb").read() or
                             b"no longer leader" in open(self.log.name, "rb").read(), timeout=TTL * 3)
        self.assertTrue(stepped, "the cut-off leader did not step down")
        print("\n  partitioned leader replaced after %.2f s" % (time.monotonic() - t0))
        # Its hold was committed before the partition: the new leader has it.
        self.assertEqual(try_req(new, "l", key, "0"), "timeout")
        adopter = Conn(new.host, new.port)  # the renewal adopts the hold: keep it open
        self.assertEqual(adopter.req("n", key, token + " 60"), "ok 60")

        self.in_ns("ip", "link", "set", self.veth_ns, "up")  # healed
        self.assertTrue(wait_until(lambda: cluster_view(isolated)["role"] == "follower" and
                                   cluster_view(isolated)["leader"] == "%s:%d" % (new.host, new.port),
                                   timeout=15), cluster_view(isolated))
        # And it serves again, through the new leader.
        self.assertEqual(try_req(isolated, "l", key, "0"), "timeout")
        reply = try_req(isolated, "l", unique("after-heal"), "0 5")
        self.assertTrue(reply and reply.startswith("ok "), reply)
        self.assertGreater(fence(reply.split()[1]), fence(token))
        holder.close()
        adopter.close()


class LogFolding(unittest.TestCase):
    """Writes are log entries, folded into hold records later (src/ha/records.h): a
    new leader must see records and unfolded entries together, and the log must not
    grow."""

    def setUp(self):
        self.etcd = EtcdCluster().start()
        self.shard = None

    def tearDown(self):
        problems = self.shard.stop() if self.shard else []
        self.etcd.stop()
        self.assertEqual(problems, [])

    def raw(self, kind):
        return [k for k in self.etcd.get_prefix_bytes(self.shard.prefix.encode() + b"/")
                if k.startswith(("%s/%s/" % (self.shard.prefix, kind)).encode())]

    def test_new_leader_replays_unfolded_entries_over_records(self):
        # Folds only by count (128 entries): what is written after one stays in the log.
        self.shard = Shard(self.etcd, n=2, extra=("--etcd-fold-interval", "600000")).start()
        leader = self.shard.leader()
        other = next(r for r in self.shard.live() if r is not leader)
        k_a, k_b, k_c = unique("fold-a"), unique("fold-b"), unique("fold-c")
        ca, cb = leader.conn(), leader.conn()
        t_a, _ = grant(ca.req("l", k_a, "0 30"))
        t_b, _ = grant(cb.req("l", k_b, "0 30"))
        churn = leader.conn()

        def churn_pairs(n):  # one client in turn: an entry per change
            for _ in range(n):
                k = unique("churn")
                t, _ = grant(churn.req("l", k, "0 30"))
                self.assertEqual(churn.req("r", k, t), "ok")
        churn_pairs(70)  # 140 more entries: one fold
        self.assertTrue(wait_until(lambda: len(self.raw("h")) == 2, timeout=10), self.raw("h"))
        self.assertLess(len(self.raw("log")), 128)
        self.assertEqual(server_metrics(leader)["dflockd_ha_log_folds_total"], 1)
        churn_pairs(40)  # unfolded entries: more than the loader's page of 64

        # Now A's release and C's grant exist only as log entries; A's record is stale.
        self.assertEqual(ca.req("r", k_a, t_a), "ok")
        cc = leader.conn()
        t_c, _ = grant(cc.req("l", k_c, "0 30"))
        self.assertEqual(len(self.raw("h")), 2)
        self.assertGreater(len(self.raw("log")), 64)
        stored = self.etcd.stored_records(self.shard.prefix).values()
        self.assertEqual(sorted(k for k in (k_a, k_b, k_c) if any(v.endswith(" " + k) for v in stored)),
                         sorted([k_b, k_c]))

        self.shard.kill(leader)
        self.shard.wait_agreed()
        self.assertIs(self.shard.leader(), other)
        got = try_req(other, "l", k_a, "0 5")  # released before the kill: free at once
        self.assertTrue(got and got.startswith("ok "), got)
        self.assertEqual(try_req(other, "l", k_b, "0"), "timeout")
        self.assertEqual(try_req(other, "l", k_c, "0"), "timeout")
        self.assertEqual(other.conn().req("n", k_c, t_c + " 30"), "ok 30")
        self.assertEqual(other.conn().req("n", k_b, t_b + " 30"), "ok 30")

    def test_a_lock_delay_survives_the_leaders_death(self):
        # A hold that ends without a release (its connection closed) starts a 4 s
        # lock-delay; a new leader restarts it at full length and grants nothing before.
        self.shard = Shard(self.etcd, n=2, extra=("--lock-delay", "4")).start()
        leader = self.shard.leader()
        other = next(r for r in self.shard.live() if r is not leader)
        key = unique("delayed")
        c = leader.conn()
        grant(c.req("l", key, "0 30"))
        c.close()
        self.assertTrue(wait_until(
            lambda: any(v.endswith(" " + key) for v in self.etcd.stored_records(self.shard.prefix, "d").values()),
            timeout=5), "the lock-delay never reached etcd")
        self.assertFalse(any(v.endswith(" " + key)
                             for v in self.etcd.stored_records(self.shard.prefix).values()))
        self.shard.kill(leader)
        t0 = time.monotonic()
        self.shard.wait_agreed()
        self.assertEqual(try_req(other, "l", key, "0"), "timeout")
        got = try_req(other, "l", key, "10 5", timeout=15)
        took = time.monotonic() - t0
        self.assertTrue(got and got.startswith("ok "), got)
        self.assertGreater(took, 3.5, "granted before the restarted lock-delay ended")

    def test_the_log_stays_bounded_under_load(self):
        self.shard = Shard(self.etcd, n=1).start()
        leader = self.shard.leader()
        bench = os.environ.get("DFLOCKD_BENCH") or \
            os.path.join(os.path.dirname(binary_path()), "dflockd-bench")
        subprocess.run([bench, "--server", "%s:%d" % (leader.host, leader.port), "--workers", "20",
                        "--duration", "3", "--json", "--no-progress"],
                       check=True, capture_output=True, timeout=60)
        m = server_metrics(leader)
        self.assertGreater(m["dflockd_ha_changes_total"], 2000)
        # Everything released: once folded, no record and no entry is left.
        self.assertTrue(wait_until(lambda: not self.raw("log") and not self.raw("h"), timeout=5),
                        (len(self.raw("log")), len(self.raw("h"))))
        m = server_metrics(leader)
        self.assertGreater(m["dflockd_ha_log_folds_total"], 1)
        self.assertEqual(m["dflockd_ha_log_fold_failures_total"], 0)
        self.assertEqual(m["dflockd_ha_log_entries"], 0)


class Configuration(unittest.TestCase):
    def run_server(self, *args):
        return subprocess.run([binary_path(), *args], capture_output=True, timeout=10)

    def test_invalid_combinations_are_refused(self):
        r = self.run_server("--etcd-prefix", "/x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--etcd-endpoints", r.stderr)
        r = self.run_server("--etcd-endpoints", "127.0.0.1:1", "--host", "0.0.0.0")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--advertise-address", r.stderr)
        r = self.run_server("--etcd-endpoints", "127.0.0.1:1", "--fence-state-file", "/tmp/x")
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])
