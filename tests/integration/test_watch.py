#!/usr/bin/python3
"""The watch API against the real binary: WebSocket op `watch` and gRPC `Watch` see a
snapshot, then every change (granted, queued, left, released with its reason) with
the holder's fence, session, transport and remote address; bad patterns are refused;
a watcher that stops reading is dropped without hurting anyone else.

    DFLOCKD_BIN=build/dflockd tests/integration/test_watch.py [-v]
"""
import asyncio
import json
import os
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from dflockd_testlib import (Server, fence, grant, grpc_stubs, wait_until, ws_frame,  # noqa: E402
                             ws_upgrade)

import grpc  # noqa: E402
import websockets  # noqa: E402

pb, rpc = grpc_stubs()


async def events(ws, until=None, timeout=3.0):
    """Events received (batches flattened) until `until(event)` is true or `timeout`."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        batch = msg["events"] if msg.get("type") == "events" else [msg]
        out += batch
        if until and any(until(e) for e in batch):
            break
    return out


class WebSocketWatch(unittest.TestCase):
    def setUp(self):
        self.server = Server("--auth-token", "tok").start()
        self.addCleanup(self.server.stop)

    def native(self):
        c = self.server.conn()
        self.assertEqual(c.req("auth", "_", "tok"), "ok")
        return c

    def url(self):
        return "ws://127.0.0.1:%d/v1/ws" % self.server.http_port

    def websockets_open(self):
        import urllib.request
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.server.http_port,
                                         headers={"Authorization": "Bearer tok"})
        with urllib.request.urlopen(request, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith('dflockd_connections{transport="websocket"}'):
                    return int(line.split()[-1])
        return 0

    def test_snapshot_then_changes_with_who_and_why(self):
        holder = self.native()
        token, _ = grant(holder.req("l", "orders.1", "0 30"))
        grant(holder.req("sl", "pool", "0 3 30"))

        async def run():
            async with websockets.connect(self.url(), subprotocols=["dflockd", "bearer.dG9r"]) as ws:
                await ws.send(json.dumps({"id": 7, "op": "watch", "pattern": "orders.>"}))
                first = json.loads(await ws.recv())
                self.assertEqual(first, {"type": "response", "id": 7, "result": {"watch": "orders.>"}})
                snap = await events(ws, until=lambda e: e["event"] == "snapshot_done")
                self.assertEqual([e["event"] for e in snap], ["held", "snapshot_done"])
                held = snap[0]
                self.assertEqual((held["key"], held["kind"], held["fence"]),
                                 ("orders.1", "lock", str(fence(token))))
                self.assertEqual(held["transport"], "native")
                self.assertTrue(held["remote"].startswith("127.0.0.1:"))
                self.assertGreater(held["remaining_s"], 25)
                # A waiter on another connection, then the release hands over.
                waiter = self.native()
                waiter.send("l", "orders.1", "10 20")
                queued = await events(ws, until=lambda e: e["event"] == "queued")
                self.assertEqual(queued[-1]["key"], "orders.1")
                self.assertEqual(holder.req("r", "orders.1", token), "ok")
                changes = await events(ws, until=lambda e: e["event"] == "granted")
                self.assertEqual([(e["event"], e.get("reason")) for e in changes],
                                 [("released", "released"), ("left", "granted"), ("granted", None)])
                self.assertEqual(changes[1]["waiter"], queued[-1]["waiter"])
                t2, _ = grant(waiter.reply())
                self.assertEqual(changes[2]["fence"], str(fence(t2)))
                self.assertEqual(changes[2]["lease_ttl_s"], 20)
                # Keys outside the pattern (and the semaphore) are not reported.
                grant(holder.req("l", "other", "0 30"))
                waiter.close()
                rest = await events(ws, until=lambda e: e["event"] == "released")
                self.assertEqual([(e["event"], e["key"], e["reason"]) for e in rest],
                                 [("released", "orders.1", "disconnected")])
                # Unwatch: nothing more.
                await ws.send(json.dumps({"id": 8, "op": "unwatch"}))
                self.assertEqual(json.loads(await ws.recv())["id"], 8)
                grant(holder.req("l", "orders.2", "0 30"))
                self.assertEqual(await events(ws, timeout=0.5), [])
        asyncio.run(run())

    def test_bad_pattern_is_refused_and_the_socket_stays_usable(self):
        async def run():
            async with websockets.connect(self.url(), subprotocols=["dflockd", "bearer.dG9r"]) as ws:
                await ws.send(json.dumps({"id": 1, "op": "watch", "pattern": "a.>.b"}))
                reply = json.loads(await ws.recv())
                self.assertEqual(reply["error"], "invalid")
                await ws.send(json.dumps({"id": 2, "op": "ping"}))
                self.assertEqual(json.loads(await ws.recv())["id"], 2)
        asyncio.run(run())

    def test_watching_needs_the_token(self):
        async def run():
            async with websockets.connect(self.url()) as ws:
                await ws.send(json.dumps({"id": 1, "op": "watch"}))
                reply = json.loads(await ws.recv())
                self.assertEqual(reply["error"], "unauthorized")
        asyncio.run(run())

    def test_a_watcher_that_stops_reading_is_dropped_and_nobody_else_notices(self):
        # A raw socket with a small receive buffer that never reads after the upgrade.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.server.http_port))
        sock.sendall(ws_upgrade(extra=["Authorization: Bearer tok"]))
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(1)  # byte by byte: nothing after the headers is consumed
        self.assertIn(b" 101 ", response.split(b"\r\n")[0])
        sock.sendall(ws_frame(json.dumps({"id": 1, "op": "watch"})))
        # Lock + release pairs, pipelined, until the server gives up on the watcher:
        # its 8192-event queue fills once the socket buffers are full.
        c = self.native()
        pairs = 0
        while pairs < 100000 and self.websockets_open() > 0:
            c.send_raw("".join("l\nflood.%d\n0 30\n" % i for i in range(1000)))
            for i in range(1000):
                token, _ = grant(c.reply())
                c.send("r", "flood.%d" % i, token)
            for i in range(1000):
                self.assertEqual(c.reply(), "ok")
            pairs += 1000
        self.assertTrue(wait_until(lambda: self.websockets_open() == 0, 10),
                        "not dropped after %d pairs" % pairs)
        self.assertEqual(self.native().req("ping"), "ok")  # everyone else is served
        sock.close()

class GrpcWatch(unittest.TestCase):
    def test_snapshot_and_changes_over_a_server_stream(self):
        with Server() as s:
            c = s.conn()
            token, _ = grant(c.req("l", "g.1", "0 30"))
            with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
                stub = rpc.DflockdStub(ch)
                stream = stub.Watch(pb.WatchRequest(pattern="g.*"))
                first = next(stream)
                self.assertEqual((first.event, first.key, first.fence), ("held", "g.1", fence(token)))
                self.assertEqual(first.transport, "native")
                self.assertEqual(next(stream).event, "snapshot_done")
                # A gRPC Session's hold shows its transport too.
                q = []

                def gen():
                    yield pb.SessionRequest(id=1, acquire=pb.AcquireRequest(
                        resource=pb.Resource(kind=pb.KIND_LOCK, key="g.2"), timeout_s=0))
                    while not q:
                        time.sleep(0.05)
                session = stub.Session(gen())
                self.assertEqual(next(session).status_code, 0)
                granted = next(stream)
                self.assertEqual((granted.event, granted.key, granted.transport), ("granted", "g.2", "grpc"))
                self.assertTrue(granted.remote.startswith("127.0.0.1:") or granted.remote.startswith("["))
                q.append(1)
                session.cancel()
                released = next(stream)
                self.assertEqual((released.event, released.reason), ("released", "disconnected"))
                stream.cancel()
            with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
                with self.assertRaises(grpc.RpcError) as e:
                    next(rpc.DflockdStub(ch).Watch(pb.WatchRequest(pattern="fo*")))
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
