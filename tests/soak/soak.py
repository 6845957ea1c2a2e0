#!/usr/bin/python3
"""Chaos soak: a few hundred clients over native, REST, WebSocket and gRPC at once —
locks, semaphores, two-phase, renewals, signals with wildcards and queue groups —
while a fault injector resets clients mid-command, leaves half-open connections,
stalls readers, floods pipelines, sends garbage to every port and SIGSTOPs holders
past their lease. Invariants, checked from the clients' own timestamps:

  mutual exclusion   no two live holds of a lock, never more than `limit` on a
                     semaphore. A hold is live from its grant reply to the earlier
                     of its release request and (last grant/renew request + lease):
                     a conservative window, so an overlap is a real violation.
  FIFO               waiters queued one after another are granted in that order
  signals            at most one copy per subscription; a queue group delivers each
                     signal to at most one member
  cleanup            after the load: no holds, waiters, sessions or subscriptions;
                     descriptors and RSS back near the baseline

    DFLOCKD_BIN=build/dflockd tests/soak/soak.py [--seconds 90 | --minutes 10]

Prints one line per invariant and the figures; exits 1 if any invariant failed.
"""
import argparse
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import multiprocessing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from dflockd_testlib import (Server, grpc_stubs, rss_kib, server_metrics,  # noqa: E402
                             ws_frame, ws_upgrade)

import grpc  # noqa: E402

pb, rpc = grpc_stubs()

LOCK_KEYS = ["soak.lock.%d" % i for i in range(6)]
SEM_KEY, SEM_LIMIT = "soak.sem", 3
LEASE = 2


class Ledger:
    """Every hold any client saw: (key, limit, start, end)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.holds = []
        self.ops = 0

    def add(self, key, limit, start, end):
        with self.lock:
            self.holds.append((key, limit, start, end))

    def count(self, n=1):
        with self.lock:
            self.ops += n


def self_test():
    """The checker itself can fail: an overlap is found, touching intervals are not."""
    assert violations([("k", 1, 0.0, 2.0), ("k", 1, 1.0, 3.0)]) == ["k"]
    assert not violations([("k", 1, 0.0, 1.0), ("k", 1, 1.0, 2.0)])
    assert violations([("s", 2, 0, 5), ("s", 2, 1, 5), ("s", 2, 2, 5)]) == ["s"]


def violations(holds):
    """Moments where more holds of a key were live than its limit allows."""
    bad = []
    by_key = {}
    for key, limit, start, end in holds:
        by_key.setdefault((key, limit), []).append((start, end))
    for (key, limit), spans in by_key.items():
        events = sorted([(s, 1) for s, e in spans if e > s] + [(e, -1) for s, e in spans if e > s])
        live = 0
        for _, delta in events:  # ends sort before starts at equal times
            live += delta
            if live > limit:
                bad.append(key)
                break
    return bad


class Native:
    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.pushes = []

    def req(self, cmd, key, arg=""):
        self.sock.sendall(("%s\n%s\n%s\n" % (cmd, key, arg)).encode())
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode()
            if line.startswith("sig "):
                self.pushes.append(line)
                continue
            return line

    def close(self):
        self.sock.close()


def native_locker(port, ledger, stop, rng):
    """Locks, renewals, releases; sometimes just hangs up while holding."""
    while not stop.is_set():
        try:
            c = Native(port)
            for _ in range(rng.randrange(5, 40)):
                if stop.is_set():
                    break
                key = rng.choice(LOCK_KEYS)
                sent = time.monotonic()
                reply = c.req("l", key, "5 %d" % LEASE)
                if not reply.startswith("ok "):
                    ledger.count()
                    continue
                start = time.monotonic()
                token = reply.split()[1]
                lease_end = sent + LEASE
                if rng.random() < 0.3:
                    renew_sent = time.monotonic()
                    if c.req("n", key, "%s %d" % (token, LEASE)).startswith("ok"):
                        lease_end = renew_sent + LEASE
                time.sleep(rng.random() * 0.02)
                if rng.random() < 0.05:
                    ledger.add(key, 1, start, min(time.monotonic(), lease_end))
                    c.close()  # auto-release
                    break
                release_sent = time.monotonic()
                c.req("r", key, token)
                ledger.add(key, 1, start, min(release_sent, lease_end))
                ledger.count(3)
            c.close()
        except (OSError, EOFError):
            pass


def native_semaphore(port, ledger, stop, rng):
    while not stop.is_set():
        try:
            c = Native(port)
            while not stop.is_set():
                sent = time.monotonic()
                reply = c.req("sl", SEM_KEY, "5 %d %d" % (SEM_LIMIT, LEASE))
                if not reply.startswith("ok "):
                    continue
                start = time.monotonic()
                time.sleep(rng.random() * 0.03)
                release_sent = time.monotonic()
                c.req("sr", SEM_KEY, reply.split()[1])
                ledger.add(SEM_KEY, SEM_LIMIT, start, min(release_sent, sent + LEASE))
                ledger.count(2)
        except (OSError, EOFError):
            pass


def native_two_phase(port, ledger, stop, rng):
    while not stop.is_set():
        try:
            c = Native(port)
            while not stop.is_set():
                key = rng.choice(LOCK_KEYS)
                reply = c.req("e", key, str(LEASE))
                wait_sent = time.monotonic()
                if reply == "queued":
                    reply = c.req("w", key, "5")
                elif reply.startswith("acquired "):
                    wait_sent = time.monotonic()
                    reply = "ok " + c.req("w", key, "5").split(" ", 1)[-1]
                if not reply.startswith("ok "):
                    continue
                start = time.monotonic()
                release_sent = time.monotonic()
                c.req("r", key, reply.split()[1])
                ledger.add(key, 1, start, min(release_sent, wait_sent + LEASE))
                ledger.count(3)
        except (OSError, EOFError):
            pass


def rest_locker(http_port, ledger, stop, rng):
    def post(path, body):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (http_port, path),
                                     data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None
    while not stop.is_set():
        try:
            key = rng.choice(LOCK_KEYS)
            sent = time.monotonic()
            status, g = post("/v1/locks/%s/acquire" % key, {"timeout_s": 5, "lease_ttl_s": LEASE})
            if status != 200:
                continue
            start = time.monotonic()
            release_sent = time.monotonic()
            post("/v1/locks/%s/release" % key, {"token": g["token"]})
            ledger.add(key, 1, start, min(release_sent, sent + LEASE))
            ledger.count(2)
        except OSError:
            pass


def grpc_locker(grpc_port, ledger, stop, rng):
    with grpc.insecure_channel("127.0.0.1:%d" % grpc_port) as channel:
        stub = rpc.DflockdStub(channel)
        while not stop.is_set():
            key = rng.choice(LOCK_KEYS)
            resource = pb.Resource(kind=pb.KIND_LOCK, key=key)
            sent = time.monotonic()
            try:
                g = stub.Acquire(pb.AcquireRequest(resource=resource, timeout_s=5, lease_ttl_s=LEASE),
                                 timeout=10).grant
            except grpc.RpcError:
                continue
            start = time.monotonic()
            release_sent = time.monotonic()
            try:
                stub.Release(pb.ReleaseRequest(resource=resource, token=g.token), timeout=10)
            except grpc.RpcError:
                pass
            ledger.add(key, 1, start, min(release_sent, sent + LEASE))
            ledger.count(2)


class WebSocket:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(ws_upgrade())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise EOFError

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self):
        while True:
            self._need(2)
            op, n = self.buf[0] & 0x0f, self.buf[1] & 0x7f
            off = 2
            if n == 126:
                self._need(4)
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10)
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            self._need(off + n)
            data, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if op == 0x9:  # ping: answer
                self.sock.sendall(bytes([0x8a, 0x80 | len(data)]) + b"\0\0\0\0" + data)
                continue
            if op == 0x8:
                raise EOFError
            return json.loads(data)

    def call(self, message):
        self.sock.sendall(ws_frame(json.dumps(message)))
        while True:
            m = self.recv()
            if m.get("type") == "response":
                return m

    def close(self):
        self.sock.close()


def ws_locker(http_port, ledger, stop, rng):
    while not stop.is_set():
        try:
            ws = WebSocket(http_port)
            for i in range(rng.randrange(5, 30)):
                if stop.is_set():
                    break
                key = rng.choice(LOCK_KEYS)
                sent = time.monotonic()
                r = ws.call({"id": i, "op": "acquire", "key": key, "timeout_s": 5, "lease_ttl_s": LEASE})
                if "result" not in r:
                    continue
                start = time.monotonic()
                release_sent = time.monotonic()
                ws.call({"id": i, "op": "release", "key": key, "token": r["result"]["token"]})
                ledger.add(key, 1, start, min(release_sent, sent + LEASE))
                ledger.count(2)
            ws.close()
        except (OSError, EOFError, ValueError):
            pass


class Signals:
    """Subscriptions over native and WebSocket with wildcards and a queue group;
    publishers number their signals."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}  # subscription name -> list of ids
        self.published = 0

    def record(self, name, payload):
        with self.lock:
            self.seen.setdefault(name, []).append(payload)


def native_subscriber(port, signals, stop, name, pattern, group):
    c = Native(port, timeout=1)
    c.req("listen", pattern, group)
    c.sock.settimeout(0.5)
    while not stop.is_set():
        try:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            c.buf += chunk
            while b"\n" in c.buf:
                line, c.buf = c.buf.split(b"\n", 1)
                parts = line.decode().split(" ", 2)
                if parts[0] == "sig":
                    signals.record(name, parts[2].split(" ", 1)[0])
        except socket.timeout:
            continue
    c.close()


def ws_subscriber(http_port, signals, stop, name, pattern, group):
    ws = WebSocket(http_port)
    ws.call({"id": 0, "op": "listen", "pattern": pattern, "group": group})
    ws.sock.settimeout(0.5)
    while not stop.is_set():
        try:
            m = ws.recv()
            if m.get("type") == "signal":
                signals.record(name, m["payload"].split(" ", 1)[0])
        except socket.timeout:
            continue
        except (EOFError, OSError):
            break
    ws.close()


def publisher(port, signals, stop, rng):
    c = Native(port)
    n = 0
    while not stop.is_set():
        n += 1
        with signals.lock:
            signals.published += 1
            ident = "%d-%d" % (threading.get_ident(), n)
        # Padded, so stalled readers fill their buffers and become slow consumers.
        c.req("signal", rng.choice(["soak.ev.a", "soak.ev.b.c", "soak.jobs.x"]), ident + " " + "x" * 1000)
        time.sleep(0.005)
    c.close()


def fifo_probe(port, stop, results):
    """Queues waiters one by one behind a held key and checks the grant order."""
    n = 0
    while not stop.is_set():
        n += 1
        key = "soak.fifo.%d" % n
        holder = Native(port)
        token = holder.req("l", key, "0 30").split()[1]
        order = []
        waiters = []
        lock = threading.Lock()

        def wait(i, conn):
            reply = conn.req("l", key, "20 1")
            with lock:
                order.append(i)
            if reply.startswith("ok "):
                conn.req("r", key, reply.split()[1])
        for i in range(5):
            conn = Native(port)
            t = threading.Thread(target=wait, args=(i, conn))
            t.start()
            waiters.append((t, conn))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # queued before the next one joins
                stats = json.loads(holder.req("stats", "_", "_")[3:])
                entry = [l for l in stats["locks"] if l["key"] == key]
                if entry and entry[0]["waiters"] == i + 1:
                    break
                time.sleep(0.01)
        holder.req("r", key, token)
        for t, conn in waiters:
            t.join(30)
            conn.close()
        holder.close()
        results.append(order == sorted(order) and len(order) == 5)
        time.sleep(1)


def pausable_holder(port, lease, out):
    """A separate process (so it can be SIGSTOPped): lock, sleep, release."""
    rng = random.Random(os.getpid())
    holds = []
    c = Native(port)
    deadline = time.monotonic() + 3600
    try:
        while time.monotonic() < deadline:
            key = rng.choice(LOCK_KEYS)
            sent = time.monotonic()
            reply = c.req("l", key, "5 %d" % lease)
            if not reply.startswith("ok "):
                continue
            start = time.monotonic()
            time.sleep(0.2)
            release_sent = time.monotonic()
            c.req("r", key, reply.split()[1])
            holds.append((key, 1, start, min(release_sent, sent + lease)))
            out.put(holds[-1])
    except (OSError, EOFError):
        pass


def fault_injector(server, stop, rng, counts):
    """Resets, half-open sockets, stalled readers, floods, garbage on every port."""
    idle, stalled = [], []
    while not stop.is_set():
        kind = rng.randrange(7)
        try:
            if kind == 0:  # reset mid-command (waiting for a held key)
                s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                s.sendall(("l\n%s\n10 %d\n" % (rng.choice(LOCK_KEYS), LEASE)).encode())
                time.sleep(rng.random() * 0.2)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            elif kind == 1:  # half-open: connect and say nothing (read timeout)
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
                if len(idle) > 20:
                    idle.pop(0).close()
            elif kind == 2:  # stalled readers on a busy channel: kept until evicted
                if len(stalled) < 5:
                    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.sendall(b"listen\nsoak.ev.>\n\n")
                    s.setblocking(False)
                    stalled.append(s)
                for s in list(stalled):  # they ping (so no read timeout) but never read
                    try:
                        s.send(b"ping\n_\n\n")
                    except BlockingIOError:
                        pass
                    except OSError:  # evicted: the server closed it
                        stalled.remove(s)
                        s.close()
            elif kind == 3:  # pipelined flood, never read, then reset
                s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                s.setblocking(False)
                try:
                    s.send(b"stats\n_\n_\n" * 2000)
                except BlockingIOError:
                    pass
                time.sleep(0.2)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            elif kind == 4:  # garbage on the native port
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                    s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
            elif kind == 5:  # garbage HTTP and WebSocket frames
                with socket.create_connection(("127.0.0.1", server.http_port), timeout=5) as s:
                    if rng.random() < 0.5:
                        s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
                    else:
                        s.sendall(ws_upgrade())
                        time.sleep(0.05)
                        s.sendall(bytes(rng.randrange(256) for _ in range(200)))
            else:  # garbage protobuf over gRPC
                with grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port) as ch:
                    try:
                        ch.unary_unary("/dflockd.v1.Dflockd/Acquire")(os.urandom(rng.randrange(1, 64)), timeout=2)
                    except grpc.RpcError:
                        pass
            counts[kind] = counts.get(kind, 0) + 1
        except OSError:
            pass
        time.sleep(0.02)
    for s in idle + stalled:
        s.close()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    duration = args.minutes * 60 if args.minutes else args.seconds
    self_test()
    rng = random.Random(args.seed)
    server = Server("--read-timeout", "5", "--write-timeout", "2", "--max-locks", "100000",
                    "--signal-queue-size", "64").start()
    time.sleep(0.5)
    base_rss, base_fds = rss_kib(server.proc.pid), fd_count(server.proc.pid)
    ledger, signals, stop = Ledger(), Signals(), threading.Event()
    fifo_results, fault_counts = [], {}
    threads = []

    def spawn(fn, *a):
        t = threading.Thread(target=fn, args=a, daemon=True)
        t.start()
        threads.append(t)

    subscriptions = []
    for i in range(4):
        subscriptions.append(("plain-n%d" % i, "soak.ev.>", ""))
        spawn(native_subscriber, server.port, signals, stop, "plain-n%d" % i, "soak.ev.>", "")
        subscriptions.append(("star-w%d" % i, "soak.*.a", ""))
        spawn(ws_subscriber, server.http_port, signals, stop, "star-w%d" % i, "soak.*.a", "")
    for i in range(3):  # one queue group with members on both transports
        spawn(native_subscriber, server.port, signals, stop, "group-n%d" % i, "soak.jobs.>", "workers")
        spawn(ws_subscriber, server.http_port, signals, stop, "group-w%d" % i, "soak.jobs.>", "workers")
    time.sleep(0.5)
    for i in range(60):
        spawn(native_locker, server.port, ledger, stop, random.Random(rng.random()))
    for i in range(20):
        spawn(native_semaphore, server.port, ledger, stop, random.Random(rng.random()))
    for i in range(20):
        spawn(native_two_phase, server.port, ledger, stop, random.Random(rng.random()))
    for i in range(25):
        spawn(rest_locker, server.http_port, ledger, stop, random.Random(rng.random()))
    for i in range(25):
        spawn(ws_locker, server.http_port, ledger, stop, random.Random(rng.random()))
    for i in range(20):
        spawn(grpc_locker, server.grpc_port, ledger, stop, random.Random(rng.random()))
    for i in range(3):
        spawn(publisher, server.port, signals, stop, random.Random(rng.random()))
    spawn(fifo_probe, server.port, stop, fifo_results)
    spawn(fault_injector, server, stop, random.Random(rng.random()), fault_counts)
    paused_out = multiprocessing.Queue()
    pausables = [multiprocessing.Process(target=pausable_holder, args=(server.port, 1, paused_out), daemon=True)
                 for _ in range(3)]
    for p in pausables:
        p.start()
    pauses = 0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        p = rng.choice(pausables)
        os.kill(p.pid, signal.SIGSTOP)  # past its 1 s lease
        time.sleep(1.5)
        os.kill(p.pid, signal.SIGCONT)
        pauses += 1
        time.sleep(rng.random() * 2)
    stop.set()
    for p in pausables:
        p.terminate()
        p.join(5)
    while not paused_out.empty():
        key, limit, start, stop_t = paused_out.get()
        ledger.add(key, limit, start, stop_t)
    for t in threads:
        t.join(40)
    alive = [t for t in threads if t.is_alive()]

    time.sleep(LEASE + 6)  # leases of abandoned holds, read timeouts of idle sockets
    stats = server.stats()
    m = server_metrics(server)
    rss, fds = rss_kib(server.proc.pid), fd_count(server.proc.pid)
    results = []

    def check(name, ok, detail):
        results.append(ok)
        print("%-20s %s  %s" % (name, "PASS" if ok else "FAIL", detail))

    bad = violations(ledger.holds)
    check("mutual exclusion", not bad, "%d holds checked over %d keys, overlaps on: %s"
          % (len(ledger.holds), len(LOCK_KEYS) + 1, sorted(set(bad)) or "none"))
    check("fifo", fifo_results and all(fifo_results), "%d probes of 5 queued waiters" % len(fifo_results))
    dup = {n: len(ids) - len(set(ids)) for n, ids in signals.seen.items() if len(ids) != len(set(ids))}
    group_ids = [i for n, ids in signals.seen.items() if n.startswith("group-") for i in ids]
    group_dup = len(group_ids) - len(set(group_ids))
    check("signals", not dup and group_dup == 0,
          "%d published, %d received over %d subscriptions; duplicates %s; group duplicates %d"
          % (signals.published, sum(len(v) for v in signals.seen.values()), len(signals.seen),
             dup or "none", group_dup))
    idle = (m.get("dflockd_holds", -1) == 0 and m.get("dflockd_waiters", -1) == 0 and
            m.get("dflockd_sessions", -1) <= 1 and not stats["signal_channels"] and
            stats["connections"] <= 1)
    check("cleanup", idle, "holds %d, waiters %d, sessions %d, channels %d, connections %d"
          % (m.get("dflockd_holds", -1), m.get("dflockd_waiters", -1), m.get("dflockd_sessions", -1),
             len(stats["signal_channels"]), stats["connections"]))
    check("resources", fds <= base_fds + 8 and rss <= base_rss + 64 * 1024,
          "fds %d -> %d, RSS %d -> %d KiB" % (base_fds, fds, base_rss, rss))
    evictions = m.get("dflockd_slow_consumer_evictions_total", 0)
    check("slow consumers", evictions > 0 or duration < 60,
          "%d stalled subscribers evicted (the rest of the server kept serving)" % evictions)
    check("server alive", server.proc.poll() is None and not alive,
          "exit %s, stuck client threads %d" % (server.proc.poll(), len(alive)))
    print("figures: %.0f s, %d ops, %d holds, %d SIGSTOP pauses, faults %s, grants %d, "
          "lease expiries %d, slow-consumer evictions %d, seed %d"
          % (duration, ledger.ops, len(ledger.holds), pauses,
             {k: v for k, v in sorted(fault_counts.items())}, m.get("dflockd_grants_total", 0),
             m.get("dflockd_lease_expiries_total", 0), m.get("dflockd_slow_consumer_evictions_total", 0),
             args.seed))
    problem = server.stop_cleanly()
    check("clean stop", problem is None, problem or "exit 0")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
