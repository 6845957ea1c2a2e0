"""A 3-member etcd cluster on loopback for the durable-mode tests (Debian's etcd).

Members keep their data on tmpfs when /dev/shm exists (etcd fsyncs every write; the
tests measure dflockd, not the disk) and use short raft timings, so losing the etcd
leader costs well under a second.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dflockd_testlib import free_ports  # noqa: E402

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def decode_log_entry(value):
    """[(op, b"h/<token>", record)] of a durable log entry (bytes)."""
    header = b"dflockd-log 1\n"
    assert value.startswith(header), value[:40]
    rest, out = value[len(header):], []
    while rest:
        head, rest = rest.split(b"\n", 1)
        op, suffix, length = head.split(b" ")
        out.append((op, suffix, rest[:int(length)]))
        rest = rest[int(length) + 1:]
    return out


class EtcdCluster:
    def __init__(self, members=3, extra_client_host=None):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="dflockd-etcd-", dir=base)
        ports = free_ports(2 * members)
        self.client_ports = ports[:members]
        self.peer_ports = ports[members:]
        self.extra_client_host = extra_client_host
        self.procs = [None] * members
        self.logs = [os.path.join(self.dir, "m%d.log" % i) for i in range(members)]
        self.started_once = [False] * members

    @property
    def endpoints(self):
        return ",".join("127.0.0.1:%d" % p for p in self.client_ports)

    def endpoints_on(self, host):
        return ",".join("%s:%d" % (host, p) for p in self.client_ports)

    def _args(self, i):
        cluster = ",".join("m%d=http://127.0.0.1:%d" % (j, p) for j, p in enumerate(self.peer_ports))
        client_urls = "http://127.0.0.1:%d" % self.client_ports[i]
        if self.extra_client_host:
            client_urls += ",http://%s:%d" % (self.extra_client_host, self.client_ports[i])
        return [ETCD, "--name", "m%d" % i, "--data-dir", os.path.join(self.dir, "m%d" % i),
                "--listen-client-urls", client_urls,
                "--advertise-client-urls", "http://127.0.0.1:%d" % self.client_ports[i],
                "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_ports[i],
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer_ports[i],
                "--initial-cluster", cluster, "--initial-cluster-token", "dflockd-test",
                "--initial-cluster-state", "new", "--heartbeat-interval", "50",
                "--election-timeout", "500", "--log-level", "error",
                *os.environ.get("DFLOCKD_TEST_ETCD_ARGS", "").split()]

    def start_member(self, i):
        with open(self.logs[i], "ab") as log:
            self.procs[i] = subprocess.Popen(self._args(i), stdout=log, stderr=subprocess.STDOUT)
        self.started_once[i] = True

    def start(self):
        for i in range(len(self.procs)):
            self.start_member(i)
        self.wait_healthy()
        return self

    def kill_member(self, i):
        p = self.procs[i]
        if p and p.poll() is None:
            p.kill()
            p.wait()
        self.procs[i] = None

    def wait_healthy(self, timeout=20):
        """Until a write through every running member succeeds."""
        deadline = time.monotonic() + timeout
        live = [i for i, p in enumerate(self.procs) if p]
        while time.monotonic() < deadline:
            ok = 0
            for i in live:
                r = subprocess.run(["etcdctl", "--endpoints", "127.0.0.1:%d" % self.client_ports[i],
                                    "--command-timeout=1s", "put", "/health-probe", "x"],
                                   env=dict(os.environ, ETCDCTL_API="3"), capture_output=True)
                ok += r.returncode == 0
            if ok == len(live):
                return
            time.sleep(0.2)
        raise RuntimeError("etcd cluster did not become healthy:\n" +
                           "\n".join(open(f, errors="replace").read()[-2000:] for f in self.logs))

    def leader_endpoint(self):
        """The client endpoint of the current raft leader."""
        r = subprocess.run(["etcdctl", "--endpoints", self.endpoints, "endpoint", "status", "-w", "json"],
                           env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, check=True)
        for st in json.loads(r.stdout):
            if st["Status"]["leader"] == st["Status"]["header"]["member_id"]:
                return st["Endpoint"]
        raise RuntimeError("no etcd leader")

    def get_prefix_bytes(self, prefix):
        """Every key under `prefix` and its value, as bytes."""
        r = subprocess.run(["etcdctl", "--endpoints", self.endpoints, "get", "--prefix", prefix,
                            "-w", "json"],
                           env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, check=True)
        kvs = json.loads(r.stdout or b"{}").get("kvs", [])
        return {base64.b64decode(kv["key"]): base64.b64decode(kv.get("value", "")) for kv in kvs}

    def stored_records(self, prefix, kind="h"):
        """A shard's `kind` records (h: holds, d: lock-delays) as a new leader would
        load them: the records with the log entries not folded yet replayed over them
        in key order (format: src/ha/records.h)."""
        everything = self.get_prefix_bytes(prefix.encode() + b"/")
        records = {k: v for k, v in everything.items()
                   if k.startswith(("%s/%s/" % (prefix, kind)).encode())}
        log = ("%s/log/" % prefix).encode()
        for key in sorted(k for k in everything if k.startswith(log)):
            for op, suffix, value in decode_log_entry(everything[key]):
                if suffix.startswith(kind.encode() + b"/"):
                    if op == b"P":
                        records[prefix.encode() + b"/" + suffix] = value
                    else:
                        records.pop(prefix.encode() + b"/" + suffix, None)
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in records.items()}

    def stop(self):
        for i in range(len(self.procs)):
            self.kill_member(i)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_port(host, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False
