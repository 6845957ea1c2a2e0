#!/usr/bin/python3
"""The lock-set workload: workers increment a shared counter under a dflockd lock
while some of them pause (SIGSTOP, then SIGCONT) longer than their lease, as a GC
pause or a stopped VM would. It counts the updates lost to two "holders" at once.

The counter lives in a file store guarded by flock (each read or write is atomic).
With `--fenced` the store checks fencing tokens the way a careful store does: a read
or write presenting a fence lower than the highest it has seen is refused, so a
paused holder that wakes up after its lease passed on cannot write.

    lockset.py --server 127.0.0.1:6388 [--workers 12 --lease 1 --pause 1.6
               --duration 6 --fenced]

Prints one JSON object: acknowledged increments, the final counter, lost updates,
stale writes the store refused, pauses injected.
"""
import argparse
import fcntl
import json
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time


class Store:
    """value + highest fence seen, in one small file, every operation under flock."""

    def __init__(self, path, fenced):
        self.path = path
        self.fenced = fenced

    def _locked(self, fn):
        with open(self.path, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            value, top = (int(x) for x in f.read().split())
            result, value, top = fn(value, top)
            f.seek(0)
            f.truncate()
            f.write("%d %d" % (value, top))
            return result

    def read(self, fence):
        def op(value, top):
            if self.fenced and fence < top:
                return None, value, top
            return value, value, max(top, fence)
        return self._locked(op)

    def write(self, fence, new_value):
        def op(value, top):
            if self.fenced and fence < top:
                return False, value, top
            return True, new_value, max(top, fence)
        return self._locked(op)


def request(sock, buf, line):
    sock.sendall(line.encode())
    while b"\n" not in buf[0]:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        buf[0] += chunk
    reply, buf[0] = buf[0].split(b"\n", 1)
    return reply.decode()


def worker(index, host, port, store, lease, pause_every, deadline, results, paused):
    """One client: lock, read, (maybe pause), write value+1, release; until deadline."""
    acked = refused = 0
    sock = socket.create_connection((host, port))
    buf = [b""]
    n = 0
    while time.time() < deadline:
        reply = request(sock, buf, "l\nset-counter\n10 %d\n" % lease)
        if not reply.startswith("ok "):
            continue
        token = reply.split()[1]
        fence = int(token[:16], 16)
        value = store.read(fence)
        n += 1
        if pause_every and n % pause_every == 0:
            paused.put(os.getpid())  # the harness stops us now and resumes us later
            time.sleep(0.5)
        if value is None:
            refused += 1
        elif store.write(fence, value + 1):
            acked += 1
        else:
            refused += 1
        request(sock, buf, "r\nset-counter\n%s\n" % token)
    results.put((index, acked, refused))


def run(host, port, workers, lease, pause_s, duration, fenced):
    with tempfile.NamedTemporaryFile("w", delete=False) as f:
        f.write("0 0")
        path = f.name
    store = Store(path, fenced)
    results = multiprocessing.Queue()
    paused = multiprocessing.Queue()
    deadline = time.time() + duration
    procs = []
    for i in range(workers):
        # A third of the workers pause inside their critical section now and then.
        pause_every = 3 if i % 3 == 0 else 0
        p = multiprocessing.Process(target=worker, args=(i, host, port, store, lease, pause_every,
                                                         deadline, results, paused))
        p.start()
        procs.append(p)
    pauses = 0
    stop = threading.Event()

    def pauser():
        nonlocal pauses
        while not stop.is_set():
            try:
                pid = paused.get(timeout=0.1)
            except Exception:  # noqa: BLE001 - queue.Empty
                continue
            os.kill(pid, signal.SIGSTOP)
            pauses += 1
            threading.Timer(pause_s, os.kill, (pid, signal.SIGCONT)).start()
    t = threading.Thread(target=pauser, daemon=True)
    t.start()
    acked = refused = 0
    for _ in procs:
        _, a, r = results.get(timeout=duration + 60)
        acked += a
        refused += r
    stop.set()
    for p in procs:
        p.join(10)
    with open(path) as f:
        final = int(f.read().split()[0])
    os.unlink(path)
    return {"fenced": fenced, "workers": workers, "lease_s": lease, "pause_s": pause_s,
            "acked": acked, "final": final, "lost": acked - final, "refused_stale": refused,
            "pauses": pauses}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="127.0.0.1:6388")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--lease", type=int, default=1)
    ap.add_argument("--pause", type=float, default=1.6)
    ap.add_argument("--duration", type=float, default=6)
    ap.add_argument("--fenced", action="store_true")
    args = ap.parse_args()
    host, port = args.server.rsplit(":", 1)
    print(json.dumps(run(host, int(port), args.workers, args.lease, args.pause, args.duration,
                         args.fenced)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
