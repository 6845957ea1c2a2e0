#!/usr/bin/python3
"""Shards that act as one service, against three real dflockd processes: every pod
accepts every key on every transport and forwards what another shard owns.

Mutual exclusion and FIFO order for contenders entering through different pods,
disconnect cleanup through a non-owner, two-phase through a non-owner, signals
registered on every shard (one copy per listener, one per queue group), REST and
unary gRPC holds that outlive the call, a stopped owner failing only its own keys
(native `error`, REST 503, gRPC UNAVAILABLE) and recovering, topology and
cluster-scope stats, auth + TLS between shards.

    DFLOCKD_BIN=build/dflockd tests/integration/test_sharding.py [-v] [Class]
"""
import asyncio
import json
import os
import random
import ssl
import sys
import tempfile
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from dflockd_testlib import (Conn, Server, fence, free_ports, grant, grpc_stubs,  # noqa: E402
                             http_request, make_self_signed_cert, rest, server_metrics, wait_until)

import grpc  # noqa: E402
import websockets  # noqa: E402

pb, rpc = grpc_stubs()
N = 3


def owner(key):
    return zlib.crc32(key.encode()) % N


def keys_owned_by(shard, count, prefix="k"):
    out = []
    i = 0
    while len(out) < count:
        k = "%s-%d-%d" % (prefix, os.getpid(), i)
        i += 1
        if owner(k) == shard:
            out.append(k)
    return out


class Shard(Server):
    """A Server whose ports were chosen with the rest of the set."""

    def __init__(self, ports, shard_list, index, *args):
        self._ports = ports
        super().__init__("--shards", shard_list, "--shard-self", str(index), *args)

    def _pick_ports(self):
        self.port, self.grpc_port, self.http_port = self._ports
        self.args = [os.environ["DFLOCKD_BIN"], "--host", self.host, "--port", str(self.port),
                     "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port)]
        self.args += self.extra_args


class Cluster:
    def __init__(self, *args, tls=None):
        ports = free_ports(3 * N)
        self.ports = [ports[3 * i:3 * i + 3] for i in range(N)]
        host = "localhost" if tls else "127.0.0.1"
        self.shard_list = ",".join("%s:%d" % (host, p[0]) for p in self.ports)
        self.args = args
        self.tls = tls
        self.shards = [self.make(i) for i in range(N)]

    def make(self, i):
        return Shard(self.ports[i], self.shard_list, i, *self.args)

    def start(self):
        for s in self.shards:
            s.start()
        return self

    def restart(self, i):
        self.shards[i] = self.make(i)
        self.shards[i].start()

    def stop(self):
        for s in self.shards:
            s.stop()

    def conn(self, i):
        return self.shards[i].conn(tls_context=self.tls)


def lock_resource(key):
    return pb.Resource(kind=pb.KIND_LOCK, key=key)


class ClusterCase(unittest.TestCase):
    cluster_args = ()

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(*cls.cluster_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def pod(self, i):
        c = self.cluster.conn(i)
        self.addCleanup(c.close)
        return c

    def via_other(self, key, not_=None):
        """A pod that does not own `key` (and is not `not_`)."""
        return next(i for i in range(N) if i != owner(key) and i != not_)

    def assert_next_waiter_granted(self, key, holder, token):
        """After a waiter left: a native waiter through the third pod gets `key` once
        the holder releases (the one that left was never granted in between)."""
        later = self.pod(self.via_other(key, not_=self.via_other(key)))
        later.send("l", key, "10 30")
        time.sleep(0.2)
        self.assertEqual(holder.req("r", key, token), "ok")
        grant(later.reply(timeout=3))


class MutualExclusion(ClusterCase):
    def test_try_locks_from_every_pod_grant_exactly_once(self):
        rnd = random.Random(7)
        conns = [self.pod(i) for i in range(N)]
        for n in range(60):
            key = "mx-%d-%d" % (os.getpid(), n)
            order = list(range(N))
            rnd.shuffle(order)
            replies = [conns[i].req("l", key, "0 30") for i in order]
            granted = [r for r in replies if r.startswith("ok ")]
            self.assertEqual(len(granted), 1, (key, replies))
            self.assertEqual(replies[0].split(" ")[0], "ok", "the first contender wins")
            # Released through yet another pod: the next try wins.
            token = granted[0].split(" ")[1]
            self.assertEqual(conns[order[2]].req("r", key, token), "ok")
            self.assertTrue(conns[order[1]].req("l", key, "0 30").startswith("ok "))

    def test_semaphore_limit_holds_across_pods(self):
        key = "sem-%d" % os.getpid()
        conns = [self.pod(i) for i in range(N)] + [self.pod(i) for i in range(N)]
        replies = [c.req("sl", key, "0 2 30") for c in conns]
        self.assertEqual(sum(r.startswith("ok ") for r in replies), 2, replies)
        self.assertEqual(sum(r == "timeout" for r in replies), len(conns) - 2)

    def test_fifo_order_for_waiters_entering_through_different_pods(self):
        for key in ["fifo-%d-%d" % (os.getpid(), n) for n in range(6)]:
            pods = random.Random(key).sample(range(N), N)
            holder, first, second = (self.pod(i) for i in pods)
            token, _ = grant(holder.req("l", key, "0 30"))
            first.send("l", key, "10 30")
            time.sleep(0.15)  # the first waiter is queued on the owner before the second
            second.send("l", key, "10 30")
            time.sleep(0.15)
            self.assertEqual(holder.req("r", key, token), "ok")
            t1, _ = grant(first.reply())
            self.assertTrue(second.no_data(0.3), "the second waiter must not be served first")
            self.assertEqual(first.req("r", key, t1), "ok")
            grant(second.reply())

    def test_fences_increase_for_one_key_whatever_the_entry_pod(self):
        key = "fence-%d" % os.getpid()
        last = 0
        for i in [0, 1, 2, 1, 0, 2]:
            c = self.pod(i)
            token, _ = grant(c.req("l", key, "5 30"))
            self.assertGreater(fence(token), last)
            last = fence(token)
            self.assertEqual(c.req("r", key, token), "ok")


class DisconnectCleanup(ClusterCase):
    def test_holder_that_disconnects_through_a_non_owner_releases_on_the_owner(self):
        for key in ["dc-%d-%d" % (os.getpid(), n) for n in range(4)]:
            holder = self.cluster.conn(self.via_other(key))
            grant(holder.req("l", key, "0 60"))
            contender = self.pod(owner(key))
            self.assertEqual(contender.req("l", key, "0"), "timeout")
            holder.close()
            started = time.monotonic()
            grant(contender.req("l", key, "5 30"))
            self.assertLess(time.monotonic() - started, 1.0)

    def test_waiter_that_disconnects_mid_wait_leaves_the_queue(self):
        key = "dcw-%d" % os.getpid()
        holder = self.pod(owner(key))
        token, _ = grant(holder.req("l", key, "0 60"))
        waiter = self.cluster.conn(self.via_other(key))
        waiter.send("l", key, "30 30")
        time.sleep(0.2)
        waiter.close()
        time.sleep(0.3)
        self.assert_next_waiter_granted(key, holder, token)

    def test_two_phase_through_a_non_owner(self):
        key = "tp-%d" % os.getpid()
        holder = self.pod(owner(key))
        token, _ = grant(holder.req("l", key, "0 60"))
        c = self.pod(self.via_other(key))
        self.assertEqual(c.req("e", key, "30"), "queued")
        self.assertEqual(c.req("e", key, "30"), "error_already_enqueued")
        self.assertEqual(c.req("w", key, "0"), "timeout")  # wait with 0 times out, state gone
        self.assertEqual(c.req("w", key, "1"), "error_not_enqueued")
        self.assertEqual(c.req("e", key, ""), "queued")
        c.send("w", key, "10")
        time.sleep(0.2)
        self.assertEqual(holder.req("r", key, token), "ok")
        t2, _ = grant(c.reply())
        self.assertEqual(c.req("r", key, t2), "ok")
        self.assertTrue(c.req("e", key, "").startswith("acquired "))


class Signals(ClusterCase):
    def test_listener_on_one_pod_gets_a_signal_published_on_another_exactly_once(self):
        listener = self.pod(0)
        self.assertEqual(listener.req("listen", "orders.>"), "ok")
        for publisher in (1, 2, 0):
            p = self.pod(publisher)
            self.assertEqual(p.req("signal", "orders.eu", "payload %d" % publisher), "ok 1")
            self.assertEqual(listener.next_push(), ("orders.eu", "payload %d" % publisher))
            self.assertTrue(listener.no_data(0.3), "a second copy arrived")
        self.assertEqual(listener.req("unlisten", "orders.>"), "ok")
        self.assertEqual(self.pod(2).req("signal", "orders.eu", "x"), "ok 0")

    def test_queue_group_members_on_different_pods_get_each_signal_once(self):
        a, b = self.pod(0), self.pod(1)
        self.assertEqual(a.req("listen", "jobs.*", "workers"), "ok")
        self.assertEqual(b.req("listen", "jobs.*", "workers"), "ok")
        publisher = self.pod(2)
        for n in range(20):
            self.assertEqual(publisher.req("signal", "jobs.run", "job %d" % n), "ok 1")
        got = []
        for conn in (a, b):
            while not conn.no_data(0.4):
                got.append(conn.next_push()[1])
        self.assertEqual(sorted(got), sorted("job %d" % n for n in range(20)))
        self.assertTrue(all(got.count(x) == 1 for x in got))

    def test_cluster_stats_count_a_listener_once(self):
        listener = self.pod(1)
        pattern = "st-%d.>" % os.getpid()
        self.assertEqual(listener.req("listen", pattern), "ok")
        status, body = rest(self.cluster.shards[2], "GET", "/v1/stats?scope=cluster")
        self.assertEqual(status, 200)
        channels = [c for c in body["signal_channels"] if c["pattern"] == pattern]
        self.assertEqual(channels, [{"pattern": pattern, "listeners": 1}])
        self.assertEqual([s["reachable"] for s in body["shards"]], [True] * N)


class OtherTransports(ClusterCase):
    def test_rest_hold_outlives_the_call_and_excludes_other_pods(self):
        key = "rest-%d" % os.getpid()
        a, b, c = (self.cluster.shards[i] for i in range(N))
        entry = self.cluster.shards[self.via_other(key)]
        status, body = rest(entry, "POST", "/v1/locks/%s/acquire" % key, {"lease_ttl_s": 30})
        self.assertEqual(status, 200, body)
        self.assertEqual(int(body["fence"]), fence(body["token"]))
        for s in (a, b, c):
            st, err = rest(s, "POST", "/v1/locks/%s/acquire" % key, {"timeout_s": 0})
            self.assertEqual((st, err["error"]), (409, "timeout"))
        status, _ = rest(c, "POST", "/v1/locks/%s/renew" % key, {"token": body["token"]})
        self.assertEqual(status, 200)
        status, _ = rest(b, "POST", "/v1/locks/%s/release" % key, {"token": body["token"]})
        self.assertEqual(status, 200)
        status, err = rest(a, "POST", "/v1/locks/%s/release" % key, {"token": body["token"]})
        self.assertEqual((status, err["error"]), (404, "not_held"))

    def test_rest_waiter_through_a_non_owner_is_granted_on_release(self):
        key = "restw-%d" % os.getpid()
        holder = self.pod(owner(key))
        token, _ = grant(holder.req("l", key, "0 30"))
        import threading
        result = {}

        def wait():
            result["r"] = rest(self.cluster.shards[self.via_other(key)], "POST",
                               "/v1/locks/%s/acquire" % key, {"timeout_s": 10})
        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.3)
        self.assertEqual(holder.req("r", key, token), "ok")
        t.join(5)
        self.assertEqual(result["r"][0], 200, result)

    def test_rest_waiter_that_hangs_up_through_a_non_owner_is_withdrawn(self):
        import socket as sock_module
        key = "resthang-%d" % os.getpid()
        holder = self.pod(owner(key))
        token, _ = grant(holder.req("l", key, "0 30"))
        entry = self.cluster.shards[self.via_other(key)]
        raw = sock_module.create_connection(("127.0.0.1", entry.http_port))
        raw.sendall(http_request("POST", "/v1/locks/%s/acquire" % key, {"timeout_s": 30}))
        time.sleep(0.3)  # queued on the owner through a pooled connection
        raw.close()
        time.sleep(0.3)
        self.assert_next_waiter_granted(key, holder, token)

    def test_grpc_unary_and_session_through_non_owners(self):
        key = "grpc-%d" % os.getpid()
        entry = self.cluster.shards[self.via_other(key)]
        other = self.cluster.shards[self.via_other(key, not_=self.via_other(key))]
        with grpc.insecure_channel("127.0.0.1:%d" % entry.grpc_port) as ch1, \
                grpc.insecure_channel("127.0.0.1:%d" % other.grpc_port) as ch2:
            s1, s2 = rpc.DflockdStub(ch1), rpc.DflockdStub(ch2)
            g = s1.Acquire(pb.AcquireRequest(resource=lock_resource(key), timeout_s=0,
                                             lease_ttl_s=30)).grant
            with self.assertRaises(grpc.RpcError) as e:
                s2.Acquire(pb.AcquireRequest(resource=lock_resource(key), timeout_s=0))
            self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            # A Session stream: two-phase through the other non-owner.
            requests = [pb.SessionRequest(id=1, enqueue=pb.EnqueueRequest(resource=lock_resource(key)))]
            import queue
            q = queue.Queue()
            q.put(requests[0])

            def gen():
                while True:
                    item = q.get()
                    if item is None:
                        return
                    yield item
            stream = s2.Session(gen())
            first = next(stream)
            self.assertEqual(first.status_code, 0)
            self.assertFalse(first.enqueue.HasField("grant"))
            q.put(pb.SessionRequest(id=2, wait=pb.WaitRequest(resource=lock_resource(key),
                                                               timeout_s=10)))
            time.sleep(0.2)
            s1.Release(pb.ReleaseRequest(resource=lock_resource(key), token=g.token))
            second = next(stream)
            self.assertEqual((second.id, second.status_code), (2, 0))
            self.assertGreater(int(second.wait.grant.fence), int(g.fence))
            q.put(None)  # the stream ends: its hold is released on the owner
            list(stream)
            s1.Acquire(pb.AcquireRequest(resource=lock_resource(key), timeout_s=5))

    def test_grpc_subscribe_on_one_pod_sees_a_publish_on_another(self):
        entry = self.cluster.shards[2]
        with grpc.insecure_channel("127.0.0.1:%d" % entry.grpc_port) as ch:
            stub = rpc.DflockdStub(ch)
            sub = stub.Subscribe(pb.SubscribeRequest(
                subscriptions=[pb.Subscription(pattern="g-%d.*" % os.getpid())]))
            time.sleep(0.3)  # no "ready" message: give the registration a moment
            deliveries = self.pod(0).req("signal", "g-%d.x" % os.getpid(), "hi")
            self.assertEqual(deliveries, "ok 1")
            signal = next(sub)
            self.assertEqual(signal.payload, b"hi")
            sub.cancel()

    def test_websocket_hold_through_a_non_owner_is_released_when_it_closes(self):
        key = "ws-%d" % os.getpid()
        entry = self.cluster.shards[self.via_other(key)]

        async def run():
            async with websockets.connect("ws://127.0.0.1:%d/v1/ws" % entry.http_port) as ws:
                await ws.send(json.dumps({"id": 1, "op": "acquire", "key": key, "timeout_s": 0}))
                reply = json.loads(await ws.recv())
                self.assertIn("token", reply["result"], reply)
                self.assertEqual(self.pod(owner(key)).req("l", key, "0"), "timeout")
        asyncio.run(run())
        grant(self.pod(owner(key)).req("l", key, "5 30"))

    def test_topology_on_every_transport(self):
        for i, s in enumerate(self.cluster.shards):
            reply = self.pod(i).req("topology")
            doc = json.loads(reply[3:])
            self.assertEqual(doc, {"cluster": True, "self": i,
                                   "shards": self.cluster.shard_list.split(",")})
            self.assertEqual(rest(s, "GET", "/v1/topology"), (200, doc))
            with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
                t = rpc.DflockdStub(ch).Topology(pb.TopologyRequest())
                self.assertEqual((list(t.shards), t.self), (doc["shards"], i))

    def test_metrics_count_forwarded_requests_per_peer(self):
        key = keys_owned_by(2, 1, "m")[0]
        before = server_metrics(self.cluster.shards[0])
        c = self.pod(0)
        grant(c.req("l", key, "0 30"))
        after = server_metrics(self.cluster.shards[0])
        name = 'dflockd_shard_forwarded_requests_total{shard="2",peer="%s"}' % \
            self.cluster.shard_list.split(",")[2]
        self.assertEqual(after[name] - before.get(name, 0), 1)
        self.assertEqual(after['dflockd_shard_peer_up{shard="2",peer="%s"}' %
                               self.cluster.shard_list.split(",")[2]], 1)

    def test_python_client_style_usage_through_pod_a_only(self):
        # What the upstream Python client does with servers=[pod A]: lock with
        # renewals, semaphore, two-phase and a signal connection, all on pod A.
        a = self.pod(0)
        for key in keys_owned_by(1, 2, "py") + keys_owned_by(2, 2, "py"):
            token, ttl = grant(a.req("l", key, "10 5"))
            self.assertEqual(a.req("n", key, "%s 5" % token), "ok 5")
            self.assertEqual(a.req("r", key, token), "ok")
            stok, _ = grant(a.req("sl", key, "10 3 5"))
            self.assertEqual(a.req("sr", key, stok), "ok")
            self.assertTrue(a.req("e", key, "5").startswith("acquired "))
        sig = self.pod(0)
        self.assertEqual(sig.req("listen", "py.*"), "ok")
        self.assertEqual(sig.req("ping"), "ok")
        self.assertEqual(self.pod(1).req("signal", "py.x", "data"), "ok 1")
        self.assertEqual(sig.next_push(), ("py.x", "data"))


class Dflockctl(ClusterCase):
    """The command-line client discovers the set and does not listen N times."""

    def ctl(self, *args, timeout=20):
        import subprocess
        return subprocess.run([os.environ["DFLOCKCTL_BIN"]] + list(args), capture_output=True,
                              text=True, timeout=timeout)

    def test_topology_and_discover(self):
        first = "127.0.0.1:%d" % self.cluster.shards[2].port
        r = self.ctl("--server", first, "topology")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), self.cluster.shard_list.split(","))
        # --discover: routed like the clients, so the hold is visible on its owner.
        key = keys_owned_by(1, 1, "ctl")[0]
        r = self.ctl("--server", first, "--discover", "lock", key, "--", "sh", "-c",
                     "echo held")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "held"), r.stderr)

    def test_listen_on_several_servers_of_a_set_prints_each_signal_once(self):
        import subprocess
        servers = ",".join("127.0.0.1:%d" % s.port for s in self.cluster.shards)
        listener = subprocess.Popen([os.environ["DFLOCKCTL_BIN"], "--server", servers, "listen",
                                     "ctl.*", "--count", "2"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(listener.kill)
        publisher = self.pod(1)
        self.assertTrue(wait_until(lambda: publisher.req("signal", "ctl.a", "one") == "ok 1", 5))
        self.assertEqual(publisher.req("signal", "ctl.b", "two"), "ok 1")
        out, _ = listener.communicate(timeout=10)
        self.assertEqual(out.splitlines()[-2:], ["ctl.a one", "ctl.b two"])

    def test_an_unsharded_server_has_no_topology(self):
        with Server() as s:
            r = self.ctl("--server", "127.0.0.1:%d" % s.port, "topology")
            self.assertEqual((r.returncode, r.stdout.strip()),
                             (0, "not sharded: each server is independent"))


class OwnerDown(unittest.TestCase):
    def test_only_the_stopped_shards_keys_fail_and_they_recover(self):
        cluster = Cluster().start()
        self.addCleanup(cluster.stop)
        down_keys = keys_owned_by(2, 3, "down")
        up_keys = keys_owned_by(0, 2, "up") + keys_owned_by(1, 2, "up")
        a = cluster.conn(0)
        grant(a.req("l", down_keys[0], "0 30"))  # an upstream connection exists
        cluster.shards[2].proc.kill()
        cluster.shards[2].proc.wait()
        # The session that held a lock on the dead shard is closed: its hold is gone.
        self.assertTrue(a.is_closed(3))
        a = cluster.conn(0)
        for key in down_keys:
            started = time.monotonic()
            self.assertEqual(a.req("l", key, "5"), "error")
            self.assertLess(time.monotonic() - started, 1.5, "must fail fast")
        for key in up_keys:
            token, _ = grant(a.req("l", key, "0 30"))
            self.assertEqual(a.req("r", key, token), "ok")
        status, body = rest(cluster.shards[0], "POST", "/v1/locks/%s/acquire" % down_keys[1], {})
        self.assertEqual((status, body["error"]), (503, "unavailable"))
        with grpc.insecure_channel("127.0.0.1:%d" % cluster.shards[1].grpc_port) as ch:
            with self.assertRaises(grpc.RpcError) as e:
                rpc.DflockdStub(ch).Acquire(pb.AcquireRequest(resource=lock_resource(down_keys[2])))
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        status, stats = rest(cluster.shards[0], "GET", "/v1/stats?scope=cluster")
        self.assertEqual([s["reachable"] for s in stats["shards"]], [True, True, False])
        self.assertIn("unreachable", cluster.shards[0].output())
        self.assertEqual(rest(cluster.shards[0], "GET", "/readyz")[0], 200)
        # Listeners keep working meanwhile, and are registered on the shard once back.
        listener = cluster.conn(1)
        self.assertEqual(listener.req("listen", "back.*"), "ok")
        cluster.restart(2)
        self.assertTrue(wait_until(lambda: a.req("l", down_keys[0], "0 30").startswith("ok "), 5))
        self.assertTrue(wait_until(
            lambda: cluster.conn(2).req("signal", "back.x", "y") == "ok 1", 5))
        self.assertEqual(listener.next_push(), ("back.x", "y"))

    def test_a_draining_owner_is_reported_as_draining(self):
        cluster = Cluster("--shutdown-timeout", "5").start()
        self.addCleanup(cluster.stop)
        key = keys_owned_by(1, 1, "drain")[0]
        keep = cluster.conn(1)  # holds the drain open
        self.assertEqual(keep.req("ping"), "ok")
        path = "/v1/locks/%s/acquire" % key
        status, body = rest(cluster.shards[0], "POST", path, {})  # a pooled connection to 1
        self.assertEqual(status, 200, body)
        rest(cluster.shards[0], "POST", "/v1/locks/%s/release" % key, {"token": body["token"]})
        cluster.shards[1].signal()
        time.sleep(0.3)
        status, body = rest(cluster.shards[0], "POST", path, {})
        self.assertEqual((status, body["error"]), (503, "draining"))
        # Its listener is closed now; new requests learn it from the last answer.
        self.assertEqual(cluster.conn(0).req("l", key, "0"), "error_draining")


class AuthAndTls(unittest.TestCase):
    def test_shards_authenticate_and_verify_each_other(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        cert, key = make_self_signed_cert(d.name)
        ctx = ssl.create_default_context(cafile=cert)
        cluster = Cluster("--tls-cert", cert, "--tls-key", key, "--auth-token", "s3cret",
                          tls=ctx)
        self.addCleanup(cluster.stop)
        cluster.start()
        for k in keys_owned_by(1, 1, "tls") + keys_owned_by(2, 1, "tls"):
            c = cluster.conn(0)
            self.assertEqual(c.req("auth", "_", "s3cret"), "ok")
            token, _ = grant(c.req("l", k, "0 30"))
            other = cluster.conn(owner(k))
            self.assertEqual(other.req("auth", "_", "s3cret"), "ok")
            self.assertEqual(other.req("l", k, "0"), "timeout")
            self.assertEqual(other.req("r", k, token), "ok")

    def test_a_shard_with_the_wrong_token_fails_its_forwarded_keys_clearly(self):
        ports = free_ports(3 * N)
        shard_list = ",".join("127.0.0.1:%d" % ports[3 * i] for i in range(N))
        shards = [Shard(ports[3 * i:3 * i + 3], shard_list, i, "--auth-token",
                        "right" if i else "wrong") for i in range(N)]
        for s in shards:
            s.start()
            self.addCleanup(s.stop)
        c = shards[0].conn()
        self.assertEqual(c.req("auth", "_", "wrong"), "ok")
        self.assertEqual(c.req("l", keys_owned_by(1, 1, "auth")[0], "0"), "error")
        self.assertTrue(wait_until(lambda: "refused our auth token" in shards[0].output(), 3))


class Configuration(unittest.TestCase):
    def test_unsharded_server_answers_the_cluster_commands_like_unknown_ones(self):
        with Server() as s:
            c = s.conn()
            self.assertEqual(c.req("peer", "0", "session"), "error")
            self.assertEqual(c.req("topology"), "error")
            self.assertEqual(rest(s, "GET", "/v1/topology"), (200, {"cluster": False, "shards": []}))

    def test_bad_shard_settings_are_refused_at_start(self):
        import subprocess
        for args, message in [
            (["--shards", "a:1,b:2"], "--shard-self"),
            (["--shards", "a:1,b:2", "--shard-self", "2"], "outside the shard list"),
            (["--shards", "a:1,,b:2", "--shard-self", "0"], "empty entry"),
            (["--shards", "a:x", "--shard-self", "0"], "no valid port"),
            (["--shard-self", "0"], "needs --shards"),
        ]:
            r = subprocess.run([os.environ["DFLOCKD_BIN"]] + args, capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(message, r.stderr, args)


if __name__ == "__main__":
    unittest.main()
