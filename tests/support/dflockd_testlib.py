"""Helpers for black-box tests of a dflockd server over real sockets.

Only the Python standard library is used, so the suite runs anywhere python3 does.
"""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


class Conn:
    """One native-protocol connection. Lines are bytes decoded as latin-1 so any
    byte survives a round trip."""

    def __init__(self, host, port, tls_context=None, timeout=10.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buf = b""
        self.pushes = []  # (channel, payload) received while reading replies

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def send(self, cmd, key="_", arg=""):
        self.send_raw(f"{cmd}\n{key}\n{arg}\n")

    def read_line(self, timeout=10.0):
        """The next raw line (push or reply) without its newline; None on EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no line within %.1fs" % timeout)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no line within %.1fs" % timeout)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("latin-1")

    def reply(self, timeout=10.0):
        """The next reply line, setting pushes aside."""
        while True:
            line = self.read_line(timeout)
            if line is None or not line.startswith("sig "):
                return line
            _, channel, payload = line.split(" ", 2)
            self.pushes.append((channel, payload))

    def req(self, cmd, key="_", arg="", timeout=10.0):
        self.send(cmd, key, arg)
        return self.reply(timeout)

    def next_push(self, timeout=5.0):
        if self.pushes:
            return self.pushes.pop(0)
        line = self.read_line(timeout)
        assert line is not None and line.startswith("sig "), "expected a push, got %r" % line
        _, channel, payload = line.split(" ", 2)
        return channel, payload

    def no_data(self, wait=0.3):
        """True if nothing arrives within `wait` seconds (connection still open)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            return True
        return False  # data arrived, or the peer closed

    def is_closed(self, timeout=3.0):
        """True if the server closes the connection within `timeout` (data before
        the close is discarded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                return True
            if not chunk:
                return True
        return False


def grant(line):
    """Parses `ok <token> <ttl>` / `acquired <token> <ttl>`; returns (token, ttl)."""
    parts = (line or "").split(" ")
    assert len(parts) == 3 and parts[0] in ("ok", "acquired"), "not a grant: %r" % line
    assert TOKEN_RE.match(parts[1]), "bad token: %r" % line
    return parts[1], int(parts[2])


def make_self_signed_cert(directory, dns_names=()):
    """Writes a throwaway EC certificate for localhost/127.0.0.1 (and `dns_names`);
    returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    names = ",".join(["DNS:localhost", "IP:127.0.0.1"] + ["DNS:" + n for n in dns_names])
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=" + names,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def fence(token):
    return int(token[:16], 16)


def unique(prefix="k"):
    return "%s-%d-%d" % (prefix, os.getpid(), time.monotonic_ns())


def rest(server, method, path, body=None, token=None, timeout=30):
    """One JSON request to a Server's HTTP port: (status, decoded body)."""
    request = urllib.request.Request("http://%s:%d%s" % (server.host, server.http_port, path),
                                     data=None if body is None else json.dumps(body).encode(),
                                     method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cluster_view(server):
    """GET /v1/cluster (durable mode): the replica's own view (no forwarding involved)."""
    url = "http://%s:%d/v1/cluster" % (server.host, server.http_port)
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.loads(r.read())


def leader_among(replicas):
    """The replica that says it leads, or None."""
    for r in replicas:
        try:
            if cluster_view(r)["role"] == "leader":
                return r
        except OSError:
            pass
    return None


def free_ports(n):
    """n distinct ports that were free a moment ago. The sockets stay open until
    all are picked, so the kernel cannot hand the same port out twice."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    return free_ports(1)[0]


def lost_port_race(output):
    """True when the server died because another process took a port first."""
    return "Address already in use" in output or "cannot listen" in output


def binary_path():
    path = os.environ.get("DFLOCKD_BIN")
    if not path:
        raise RuntimeError("set DFLOCKD_BIN to the dflockd executable")
    return path


class Server:
    """Runs the real dflockd binary on a free port for one test (or class)."""

    def __init__(self, *args, env=None):
        self.host = "127.0.0.1"
        self.extra_args = list(args)
        self._pick_ports()
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.log = tempfile.TemporaryFile()
        self.proc = None
        self.conns = []

    def _pick_ports(self):
        self.port, self.grpc_port, self.http_port = free_ports(3)
        self.args = [binary_path(), "--host", self.host, "--port", str(self.port),
                     "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port)]
        self.args += self.extra_args

    def start(self, wait_ready=True):
        # Tests run in parallel: a port picked here can be taken by another test's
        # server before ours binds it. Such a start is retried on fresh ports.
        for attempt in range(5):
            try:
                return self._start_once(wait_ready)
            except RuntimeError:
                if attempt == 4 or not lost_port_race(self.output()):
                    raise
                self.log.seek(0)
                self.log.truncate()
                self._pick_ports()

    def _start_once(self, wait_ready):
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if wait_ready:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("dflockd exited early:\n" + self.output())
                try:
                    socket.create_connection((self.host, self.port), timeout=0.2).close()
                    socket.create_connection((self.host, self.grpc_port), timeout=0.2).close()
                    socket.create_connection((self.host, self.http_port), timeout=0.2).close()
                    time.sleep(0.05)  # let the server see the probe's close
                    return self
                except OSError:
                    time.sleep(0.02)
            raise RuntimeError("dflockd did not start:\n" + self.output())
        return self

    def conn(self, **kw):
        c = Conn(self.host, self.port, **kw)
        self.conns.append(c)
        return c

    def stats(self):
        """The server's `stats` document, over a connection of its own."""
        with Conn(self.host, self.port) as c:
            reply = c.req("stats")
        assert reply.startswith("ok "), "stats failed: %r" % reply
        return json.loads(reply[3:])

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def signal(self, signo=signal.SIGTERM):
        self.proc.send_signal(signo)

    def stop(self):
        for c in self.conns:
            c.close()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if not self.log.closed:
            self.final_output = self.output()
            self.log.close()
        return rc

    def stop_cleanly(self):
        """Stops the server and returns None if it exited with status 0 (no sanitizer
        report, no crash), else a description of what went wrong."""
        rc = self.stop()
        if rc == 0:
            return None
        return "dflockd exited with %s:\n%s" % (rc, getattr(self, "final_output", ""))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
_STUBS = None


def grpc_stubs():
    """Generates the Python gRPC stubs of proto/ (and the minimal health and
    reflection protos of tests/grpc/protos) once, puts them on sys.path and returns
    the (dflockd_pb2, dflockd_pb2_grpc) modules."""
    global _STUBS
    import sys
    if _STUBS is None:
        _STUBS = tempfile.TemporaryDirectory()
        protos = [
            (os.path.join(ROOT, "proto"), "dflockd/v1/dflockd.proto"),
            (os.path.join(ROOT, "tests", "grpc", "protos"), "health_min.proto"),
            (os.path.join(ROOT, "tests", "grpc", "protos"), "reflection_min.proto"),
        ]
        for include, proto in protos:
            subprocess.run(["protoc", "-I", include, "--python_out", _STUBS.name, "--grpc_out",
                            _STUBS.name, "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                            os.path.join(include, proto)], check=True)
        sys.path.insert(0, _STUBS.name)
    from dflockd.v1 import dflockd_pb2, dflockd_pb2_grpc
    return dflockd_pb2, dflockd_pb2_grpc


def server_metrics(server):
    """The server's /metrics samples as {"name{labels}": value}."""
    with urllib.request.urlopen("http://%s:%d/metrics" % (server.host, server.http_port), timeout=5) as r:
        values = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values


def rss_kib(pid):
    """Resident set size of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Polls until predicate() is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# Raw HTTP and WebSocket bytes, for tests that must control exactly what is sent.

def http_request(method, path, body=None, headers=()):
    data = b"" if body is None else json.dumps(body).encode()
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: test"]
    lines += list(headers)
    if body is not None:
        lines += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def ws_frame(text):
    """One masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    header = bytearray([0x81])
    if len(payload) < 126:
        header.append(0x80 | len(payload))
    else:
        header.append(0x80 | 126)
        header += len(payload).to_bytes(2, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(header) + mask + masked


def ws_upgrade(key="dGhlIHNhbXBsZSBub25jZQ==", extra=()):
    return http_request("GET", "/v1/ws", headers=[
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: " + key] + list(extra))
