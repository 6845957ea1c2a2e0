#!/usr/bin/python3
"""Durable mode with several shards (--etcd-endpoints with --shards): two shards of two
replicas each on one 3-member etcd cluster, each shard behind a Service stand-in
(tests/ha/service_proxy.py: a random live replica per connection), real sockets.

What it shows: a key is served by its own shard's leader whichever replica of whichever
shard a client reaches (one hold, fences from that shard's store), session cleanup and
signals work across the two hops, and a shard's leader can die while a client on the
other shard holds one of its keys: the hold survives, renewable by token.

    tests/ha/test_ha_shards.py [TestCase[.test]]   (DFLOCKD_BIN = the dflockd binary)
"""
import os
import signal
import subprocess
import sys
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from dflockd_testlib import (Server, cluster_view, fence, grant, leader_among, rest, unique,  # noqa: E402
                             wait_until)
from etcd_cluster import EtcdCluster  # noqa: E402
from service_proxy import ServiceProxy  # noqa: E402
from test_ha import TTL, try_req  # noqa: E402

SHARDS, REPLICAS = 2, 2


def owner(key):
    return zlib.crc32(key.encode()) % SHARDS


def key_of(shard, prefix="k"):
    while True:
        k = unique(prefix)
        if owner(k) == shard:
            return k


class DurableShards(unittest.TestCase):
    def setUp(self):
        self.etcd = EtcdCluster().start()
        run = time.monotonic_ns()
        self.prefixes = ["/dflockd-test/%d/%d" % (run, i) for i in range(SHARDS)]
        self.services = [ServiceProxy([]) for _ in range(SHARDS)]
        shard_list = ",".join(p.address for p in self.services)
        self.replicas = [[Server("--etcd-endpoints", self.etcd.endpoints, "--etcd-prefix", self.prefixes[i],
                                 "--election-ttl", str(TTL), "--shards", shard_list, "--shard-self", str(i))
                          for _ in range(REPLICAS)] for i in range(SHARDS)]
        self.dead = []
        for i, group in enumerate(self.replicas):
            for r in group:
                r.start()
            self.services[i].backends = [(r.host, r.port) for r in group]
        for i in range(SHARDS):
            self.assertTrue(wait_until(lambda: self.leader(i) is not None, timeout=15), "no leader in shard %d" % i)
            self.assertTrue(wait_until(lambda: all(cluster_view(r)["leader"] for r in self.live(i)), timeout=10))

    def tearDown(self):
        # All at once, as a Helm uninstall stops them: a replica's drain waits for the
        # other shards' connections to it, which end when those shards stop (or at
        # their next ping, within 5 s).
        alive = [r for g in self.replicas for r in g if r not in self.dead and r.proc.poll() is None]
        for r in alive:
            for c in r.conns:
                c.close()
            r.proc.send_signal(signal.SIGTERM)
        problems = []
        for group in self.replicas:
            for r in group:
                if r in self.dead:
                    r.stop()
                    continue
                try:
                    r.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
                p = r.stop_cleanly()
                if p:
                    problems.append(p)
        for s in self.services:
            s.close()
        self.etcd.stop()
        self.assertEqual(problems, [])

    def live(self, shard):
        return [r for r in self.replicas[shard] if r not in self.dead]

    def everyone(self):
        return [r for g in range(SHARDS) for r in self.live(g)]

    def leader(self, shard):
        return leader_among(self.live(shard))

    def follower(self, shard):
        lead = self.leader(shard)
        return next(r for r in self.live(shard) if r is not lead)

    def held_in(self, shard):
        """The hold records in a shard's etcd prefix."""
        return self.etcd.stored_records(self.prefixes[shard])

    def test_every_replica_reaches_the_owning_shard(self):
        entry_points = self.everyone()
        for shard in range(SHARDS):
            key = key_of(shard)
            fences = []
            for holder in entry_points:
                c = holder.conn()
                token, _ = grant(c.req("l", key, "0 30"))
                fences.append(fence(token))
                # Held once, in the owner's store, and nobody else gets it anywhere.
                self.assertEqual(sum(key in v for v in self.held_in(shard).values()), 1)
                self.assertFalse(any(key in v for v in self.held_in(1 - shard).values()))
                for other in entry_points:
                    self.assertEqual(try_req(other, "l", key, "0 5"), "timeout")
                self.assertEqual(c.req("r", key, token), "ok")
            self.assertEqual(fences, sorted(fences))
            self.assertEqual(len(set(fences)), len(fences))

    def test_rest_holds_outlive_the_call_and_cluster_stats_see_every_shard(self):
        # REST acquires belong to no session: forwarded over pooled (detached) peer
        # connections, passed on by a follower to its leader, kept after the call.
        for shard in range(SHARDS):
            key = key_of(shard, "rest")
            entry = self.follower(1 - shard)
            status, body = rest(entry, "POST", "/v1/locks/%s/acquire" % key, {"lease_ttl_s": 30})
            self.assertEqual(status, 200, body)
            self.assertEqual(sum(key in v for v in self.held_in(shard).values()), 1)
            for r in self.everyone():
                st, err = rest(r, "POST", "/v1/locks/%s/acquire" % key, {"timeout_s": 0})
                self.assertEqual((st, err["error"]), (409, "timeout"))
            status, _ = rest(self.follower(shard), "POST", "/v1/locks/%s/renew" % key, {"token": body["token"]})
            self.assertEqual(status, 200)
            status, view = rest(self.follower(0), "GET", "/v1/stats?scope=cluster")
            self.assertEqual(status, 200, view)
            self.assertEqual([s["reachable"] for s in view["shards"]], [True] * SHARDS)
            self.assertIn(key, [lock["key"] for lock in view["locks"]])
            status, _ = rest(self.leader(1 - shard), "POST", "/v1/locks/%s/release" % key, {"token": body["token"]})
            self.assertEqual(status, 200)
            self.assertFalse(any(key in v for v in self.held_in(shard).values()))

    def test_waiters_and_disconnect_cleanup_across_shards(self):
        key = key_of(1)
        far = self.follower(0)  # two hops from shard 1's leader: follower of 0, then 1
        holder = far.conn()
        token, _ = grant(holder.req("l", key, "0 30"))
        waiter = self.follower(1).conn()
        waiter.send("l", key, "20 30")
        self.assertTrue(waiter.no_data(0.3))
        holder.close()  # a disconnect releases what the session held, two hops away
        t2, _ = grant(waiter.reply(timeout=10))
        self.assertGreater(fence(t2), fence(token))
        # Two-phase acquisition through the far replica.
        two = far.conn()
        third = self.leader(0).conn()
        third.send("l", key, "20 30")
        time.sleep(0.5)
        self.assertEqual(two.req("e", key, "30"), "queued")
        self.assertEqual(waiter.req("r", key, t2), "ok")
        # FIFO: the third connection queued first.
        t3, _ = grant(third.reply(timeout=10))
        self.assertEqual(third.req("r", key, t3), "ok")
        t4, _ = grant(two.req("w", key, "10"))
        self.assertGreater(fence(t4), fence(t3))

    def test_signals_are_delivered_once_across_shards_and_replicas(self):
        subscriber = self.follower(0).conn()
        self.assertEqual(subscriber.req("listen", "news.*", ""), "ok")
        group_members = [self.follower(1).conn(), self.leader(0).conn()]
        for m in group_members:
            self.assertEqual(m.req("listen", "jobs.>", "workers"), "ok")
        time.sleep(0.3)
        publishers = self.everyone()
        for i, p in enumerate(publishers):
            reply = p.conn().req("signal", "news.%d" % i, "hello %d" % i)
            self.assertTrue(reply.startswith("ok"), reply)
        got = sorted(subscriber.next_push(timeout=5) for _ in publishers)
        self.assertEqual(len(got), len(publishers))
        self.assertTrue(subscriber.no_data(0.5), "a signal was delivered twice")
        for i, p in enumerate(publishers):
            p.conn().req("signal", "jobs.a.%d" % i, "job")
        deliveries = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for m in group_members:
                try:
                    m.next_push(timeout=0.1)
                    deliveries += 1
                except (AssertionError, TimeoutError, OSError):
                    pass
        self.assertEqual(deliveries, len(publishers), "a queue group delivers each signal once")

    def test_a_shard_leader_dies_while_the_other_shard_holds_its_key(self):
        key = key_of(1)
        far = self.follower(0)
        c = far.conn()
        token, _ = grant(c.req("l", key, "0 30"))
        old = self.leader(1)
        old.proc.kill()
        old.proc.wait()
        self.dead.append(old)
        t0 = time.monotonic()
        # The hold was the session's through two hops: that session ends (the client
        # reconnects), but the hold itself is kept in etcd and can be renewed by token.
        self.assertTrue(wait_until(lambda: self.leader(1) is not None, timeout=10))
        # Renewed from a new connection: the hold is adopted by that connection's
        # session (two hops away) and would end with it, so it stays open.
        holder, renewed = None, None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and renewed != "ok 30":
            try:
                holder = far.conn(timeout=3)
                renewed = holder.req("n", key, token + " 30", timeout=3)
            except (OSError, EOFError, AssertionError, TimeoutError):
                time.sleep(0.1)
        self.assertEqual(renewed, "ok 30")
        print("\n  renewed through the other shard %.2f s after its leader was killed" %
              (time.monotonic() - t0))
        for r in self.everyone():
            self.assertEqual(try_req(r, "l", key, "0 5"), "timeout")
        newer = self.leader(0).conn()
        newer.send("l", key, "20 30")
        time.sleep(0.3)
        self.assertEqual(holder.req("r", key, token), "ok")
        t2, _ = grant(newer.reply(timeout=10))
        self.assertGreater(fence(t2), fence(token))


    def test_dflockctl_keeps_a_durable_shards_lock_across_its_leaders_death(self):
        ctl = os.environ.get("DFLOCKCTL_BIN")
        if not ctl:
            self.skipTest("set DFLOCKCTL_BIN to the dflockctl executable")
        key = key_of(1, "ctl")
        started = os.path.join(self.etcd.dir, "started")
        servers = [arg for s in self.services for arg in ("--server", s.address)]
        # Routed by the client to shard 1's Service; reconnects through it and renews.
        proc = subprocess.Popen([ctl, *servers, "lock", key, "--lease", "6", "--durable", "--",
                                 "sh", "-c", "touch %s; sleep 9" % started],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if not wait_until(lambda: os.path.exists(started) or proc.poll() is not None, timeout=10) \
                or proc.poll() is not None:
            self.fail("dflockctl did not start the command: %r" % (proc.communicate(),))
        old = self.leader(1)
        old.proc.kill()
        old.proc.wait()
        self.dead.append(old)
        seen = []
        while proc.poll() is None:
            reply = try_req(self.follower(0), "l", key, "0", timeout=5)
            seen.append(reply)
            self.assertFalse(reply and reply.startswith("ok"), "granted while dflockctl held it")
            time.sleep(0.3)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertIn("timeout", seen)  # seen held after the failover, through the other shard
        reply = try_req(self.follower(0), "l", key, "0 5")
        self.assertTrue(reply and reply.startswith("ok "), reply)


if __name__ == "__main__":
    unittest.main(verbosity=2)
