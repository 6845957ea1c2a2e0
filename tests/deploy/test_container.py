#!/usr/bin/python3
"""The container image, run the way the Helm chart runs it: build
deploy/docker/Dockerfile with podman, render the chart, and start the image with
exactly the env, args, mounted files, user and security settings of the rendered
StatefulSet's pod. Then run the rendered probes as kubelet would, take and release a
lock over all three ports from outside the container, publish and receive a signal,
run the rendered `helm test` pod's command, and `podman stop` it: it must drain and
exit 0 within the grace period. Finally three containers as the chart's three shards:
dflockctl (in a container, with the chart's shard list) and the C++ client route
every key to the shard zlib's CRC-32 picks.

Needs root and podman (scripts/container-base.sh installs podman, runc and mmdebstrap
and makes the Debian base images from the machine's apt sources). Where containers
cannot run, it exits 77 (ctest: skipped) with the reason.

    tests/deploy/test_container.py [-v]      (DFLOCKD_IMAGE=name skips the build)
"""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zlib

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from dflockd_testlib import Conn, free_ports, grant, grpc_stubs, make_self_signed_cert, wait_until  # noqa: E402

import grpc  # noqa: E402

pb, rpc = grpc_stubs()

CHART = os.path.join(ROOT, "deploy", "helm", "dflockd")
CONTAINERS_CONF = os.path.join(HERE, "containers.conf")
ENV = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
IMAGE = os.environ.get("DFLOCKD_IMAGE", "localhost/dflockd:test")
SKIP = 77


def run(*args, check=True, **kw):
    result = subprocess.run(list(args), capture_output=True, text=True, env=ENV, **kw)
    if check and result.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), result.returncode,
                                                      result.stdout, result.stderr))
    return result


def podman(*args, check=True, **kw):
    return run("podman", *args, check=check, **kw)


def helm_binary():
    return run(os.path.join(ROOT, "scripts", "install-helm.sh")).stdout.strip().splitlines()[-1]


def render(*args, release="locks", namespace="default"):
    out = run(helm_binary(), "template", release, CHART, "--namespace", namespace,
              "--set", "image.repository=" + IMAGE.rsplit(":", 1)[0],
              "--set", "image.tag=" + IMAGE.rsplit(":", 1)[1], *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def only(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, "expected one %s, got %d" % (kind, len(found))
    return found[0]


def prepare():
    """Base images and the dflockd image; returns None or the reason to skip."""
    if os.geteuid() != 0:
        return "not root: rootful podman is needed here"
    setup = run(os.path.join(ROOT, "scripts", "container-base.sh"), check=False)
    if setup.returncode != 0:
        return "container-base.sh failed:\n" + setup.stdout + setup.stderr
    probe = podman("run", "--rm", "docker.io/library/debian:12-slim", "true", check=False)
    if probe.returncode != 0:
        return "podman cannot start a container here:\n" + probe.stderr
    if "DFLOCKD_IMAGE" not in os.environ:
        started = time.monotonic()
        podman("build", "--pull=never", "-q", "-f", os.path.join(ROOT, "deploy", "docker", "Dockerfile"),
               "-t", IMAGE, ROOT, timeout=1800)
        print("image built in %.0f s" % (time.monotonic() - started), file=sys.stderr)
    return None


class PodRunner:
    """Runs a rendered pod container with podman: its env, args, command, mounts,
    user, read-only root and capabilities; `volumes` maps volume names to host dirs."""

    def __init__(self, test):
        self.test = test
        self.names = []

    def run(self, name, pod_spec, container, volumes, network_args, detach=True):
        psc = pod_spec.get("securityContext", {})
        csc = container.get("securityContext", {})
        args = ["run", "--name", name, "--user", "%d:%d" % (psc["runAsUser"], psc["runAsGroup"])]
        if psc.get("fsGroup") is not None:
            args += ["--group-add", str(psc["fsGroup"])]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        for cap in csc.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", cap]
        if csc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for env in container.get("env", []):
            args += ["-e", "%s=%s" % (env["name"], env["value"])]
        for mount in container.get("volumeMounts", []):
            args += ["-v", "%s:%s:%s" % (volumes[mount["name"]], mount["mountPath"],
                                         "ro" if mount.get("readOnly") else "rw")]
        args += network_args
        if "command" in container:
            args += ["--entrypoint", json.dumps(container["command"])]
        args.append("-d" if detach else "--rm")
        args.append(container["image"])
        args += container.get("args", [])
        if detach:
            self.names.append(name)
        return podman(*args, check=detach, timeout=120)

    def cleanup(self):
        for name in self.names:
            podman("rm", "-f", "-t", "0", name, check=False)


def write_secret_dir(base, name, files):
    """A host directory with a Secret's files as kubelet projects them (0440, group 10001)."""
    path = os.path.join(base, name)
    os.makedirs(path)
    for key, content in files.items():
        file = os.path.join(path, key)
        with open(file, "wb") as f:
            f.write(content)
        os.chown(file, 0, 10001)
        os.chmod(file, 0o440)
    os.chmod(path, 0o755)
    return path


def kubelet_probe(probe, ports, tls):
    """One probe attempt as kubelet makes it; True on success."""
    timeout = probe.get("timeoutSeconds", 1)
    try:
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
            context = ssl._create_unverified_context()  # kubelet does not verify
            url = "%s://127.0.0.1:%d%s" % (get.get("scheme", "HTTP").lower(), port, get["path"])
            with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
                return 200 <= r.status < 400
        if "grpc" in probe:
            from health_min_pb2 import HealthCheckRequest
            from health_min_pb2_grpc import HealthStub
            with grpc.insecure_channel("127.0.0.1:%d" % probe["grpc"]["port"]) as channel:
                reply = HealthStub(channel).Check(HealthCheckRequest(service=""), timeout=timeout)
                return reply.status == 1
        port = probe["tcpSocket"]["port"]
        port = ports[port] if isinstance(port, str) else port
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except Exception:  # noqa: BLE001 - any failure is a failed probe
        return False


def port_open(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def metrics_value(url, name, context=None, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=5, context=context) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    raise AssertionError("no %s at %s" % (name, url))


class SingleShard(unittest.TestCase):
    """One pod of the TLS + auth + PVC example, run as the StatefulSet runs it."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dflockd-container-")
        cls.runner = PodRunner(cls)
        cls.native, cls.http, cls.grpc = free_ports(3)
        shard = "locks-dflockd-0.locks-dflockd-headless.default.svc.cluster.local"
        cls.docs = render("-f", os.path.join(CHART, "examples", "three-shards-tls-auth.yaml"),
                          "--set", "shards=1",
                          "--set", "ports.native=%d" % cls.native, "--set", "ports.http=%d" % cls.http,
                          "--set", "ports.grpc=%d" % cls.grpc)
        cls.sts = only(cls.docs, "StatefulSet")
        cls.pod = cls.sts["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]
        secret = only(cls.docs, "Secret")
        cls.token = base64.b64decode(secret["data"]["token"]).decode()
        certs = os.path.join(cls.work, "certs")
        os.makedirs(certs)
        cert, key = make_self_signed_cert(certs, dns_names=[shard])
        with open(cert, "rb") as f:
            cert_pem = f.read()
        with open(key, "rb") as f:
            key_pem = f.read()
        cls.cert = cert
        data = os.path.join(cls.work, "data")  # the PersistentVolume
        os.makedirs(data)
        os.chown(data, 0, 10001)
        os.chmod(data, 0o770)
        cls.volumes = {
            "data": data,
            "auth": write_secret_dir(cls.work, "auth", {"token": cls.token.encode()}),
            "tls": write_secret_dir(cls.work, "tls", {"tls.crt": cert_pem, "tls.key": key_pem,
                                                      "ca.crt": cert_pem}),
        }
        # Host networking stands in for the pod's own IP: the ports are the rendered ones.
        cls.network = ["--network", "host", "--add-host", "%s:127.0.0.1" % shard]
        cls.runner.run("dflockd-single", cls.pod, cls.container, cls.volumes, cls.network)
        cls.tls = ssl.create_default_context(cafile=cert)
        cls.ports = {"native": cls.native, "http": cls.http, "grpc": cls.grpc}

    @classmethod
    def tearDownClass(cls):
        cls.runner.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    def logs(self):
        result = podman("logs", "dflockd-single", check=False)
        return result.stdout + result.stderr

    def test_0_image_metadata(self):
        config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
        self.assertEqual(config["User"], "10001:10001")
        self.assertEqual(config["Entrypoint"], ["/usr/local/bin/dflockd"])
        self.assertIn("DFLOCKD_HOST=0.0.0.0", config["Env"])
        labels = config["Labels"]
        for label in ("version", "source", "licenses", "title"):
            self.assertTrue(labels.get("org.opencontainers.image." + label), label)
        version = podman("run", "--rm", IMAGE, "--version").stdout.strip()
        self.assertEqual(version, "dflockd " + labels["org.opencontainers.image.version"])
        ctl = podman("run", "--rm", "--entrypoint", "dflockctl", IMAGE, "--help").stdout
        self.assertIn("dflockctl", ctl)

    def test_1_probes_as_kubelet_runs_them(self):
        startup = self.container["startupProbe"]
        ok = False
        for _ in range(startup["failureThreshold"]):
            if kubelet_probe(startup, self.ports, True):
                ok = True
                break
            time.sleep(startup["periodSeconds"])
        self.assertTrue(ok, "startup probe never succeeded:\n" + self.logs())
        self.assertTrue(kubelet_probe(self.container["readinessProbe"], self.ports, True))
        self.assertTrue(kubelet_probe(self.container["livenessProbe"], self.ports, True))
        self.assertEqual(self.container["readinessProbe"]["httpGet"]["path"], "/readyz")

    def test_2_lock_over_every_port_and_a_signal(self):
        # Native, TLS + auth.
        native = Conn("127.0.0.1", self.native, tls_context=self.tls)
        self.addCleanup(native.close)
        self.assertEqual(native.req("auth", "_", self.token), "ok")
        token, _ = grant(native.req("l", "c-native", "5"))
        self.assertEqual(native.req("r", "c-native", token), "ok")
        # HTTPS + Bearer.
        base = "https://127.0.0.1:%d" % self.http

        def post(path, body):
            request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                             headers={"Authorization": "Bearer " + self.token})
            with urllib.request.urlopen(request, timeout=5, context=self.tls) as r:
                return json.loads(r.read())
        grant_http = post("/v1/locks/c-http/acquire", {"timeout_s": 5})
        self.assertEqual(post("/v1/locks/c-http/release", {"token": grant_http["token"]}), {})
        # gRPC over TLS + metadata.
        with open(self.cert, "rb") as f:
            credentials = grpc.ssl_channel_credentials(f.read())
        with grpc.secure_channel("localhost:%d" % self.grpc, credentials) as channel:
            stub = rpc.DflockdStub(channel)
            md = [("authorization", "Bearer " + self.token)]
            resource = pb.Resource(kind=pb.KIND_LOCK, key="c-grpc")
            g = stub.Acquire(pb.AcquireRequest(resource=resource, timeout_s=5), metadata=md, timeout=10).grant
            stub.Release(pb.ReleaseRequest(resource=resource, token=g.token), metadata=md, timeout=10)
        # A signal: listen natively, publish over REST.
        self.assertEqual(native.req("listen", "c.events.>"), "ok")
        self.assertEqual(post("/v1/signals/c.events.one", {"payload": "hello"}), {"deliveries": 1})
        self.assertEqual(native.next_push(), ("c.events.one", "hello"))
        # Nothing was written outside /data; the fence state file is there.
        self.assertTrue(os.path.exists(os.path.join(self.volumes["data"], "fence.state")))

    def test_3_rendered_helm_test_pod(self):
        test_pod = only(self.docs, "Pod")
        container = test_pod["spec"]["containers"][0]
        result = self.runner.run("dflockd-helm-test", test_pod["spec"], container, self.volumes,
                                 self.network, detach=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("shard locks-dflockd-0.locks-dflockd-headless", result.stdout)
        self.assertIn('"connections"', result.stdout)

    def test_4_stop_drains_and_exits_zero(self):
        grace = self.pod["terminationGracePeriodSeconds"]
        waiter = Conn("127.0.0.1", self.native, tls_context=self.tls)
        self.assertEqual(waiter.req("auth", "_", self.token), "ok")
        stopper = subprocess.Popen(["podman", "stop", "-t", str(grace), "dflockd-single"], env=ENV,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started = time.monotonic()
        # Draining: readiness fails (the pod leaves the Service), commands are refused.
        self.assertTrue(wait_until(lambda: not kubelet_probe(self.container["readinessProbe"], self.ports, True), 5))
        self.assertEqual(waiter.req("ping"), "error_draining")
        waiter.close()
        stopper.communicate(timeout=grace + 10)
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, grace)
        state = podman("inspect", "-f", "{{.State.ExitCode}}", "dflockd-single").stdout.strip()
        self.assertEqual(state, "0", self.logs())
        self.assertIn("drained", self.logs())


class ThreeShards(unittest.TestCase):
    """The chart's three shards as three containers on one network: clients route
    every key to crc32(key) % 3 over the chart's ordered shard list."""

    KEYS = ["orders", "invoices", "my-key", "user:42", "report/2026", "a", "b", "c", "job-7", "x" * 40]

    @classmethod
    def setUpClass(cls):
        cls.runner = PodRunner(cls)
        cls.work = tempfile.mkdtemp(prefix="dflockd-shards-")
        cls.network = "dflockd-test-%d" % os.getpid()
        podman("network", "create", "--subnet", "10.231.%d.0/24" % (os.getpid() % 200 + 20), cls.network)
        docs = render("--set", "shards=3")
        sts = only(docs, "StatefulSet")
        cls.shards = only(docs, "Pod")["spec"]["containers"][0]["env"][0]["value"].split(",")
        assert len(cls.shards) == 3
        subnet = json.loads(podman("network", "inspect", cls.network).stdout)[0]["subnets"][0]["subnet"]
        prefix = subnet.rsplit(".", 1)[0]
        cls.ips = ["%s.%d" % (prefix, 10 + i) for i in range(3)]
        cls.hosts = []
        for i, address in enumerate(cls.shards):
            cls.hosts += ["--add-host", "%s:%s" % (address.rsplit(":", 1)[0], cls.ips[i])]
        pod = sts["spec"]["template"]["spec"]
        for i in range(3):
            data = os.path.join(cls.work, "data-%d" % i)
            os.makedirs(data)
            os.chown(data, 0, 10001)
            os.chmod(data, 0o770)
            cls.runner.run("dflockd-shard-%d" % i, pod, pod["containers"][0], {"data": data},
                           ["--network", cls.network, "--ip", cls.ips[i], "--hostname", "locks-dflockd-%d" % i])
        for ip in cls.ips:
            assert wait_until(lambda: port_open(ip, 6389), 20), "shard %s did not start" % ip

    @classmethod
    def tearDownClass(cls):
        cls.runner.cleanup()
        podman("network", "rm", "-f", cls.network, check=False)
        shutil.rmtree(cls.work, ignore_errors=True)

    def grants(self):
        return [metrics_value("http://%s:6389/metrics" % ip, "dflockd_grants_total") for ip in self.ips]

    def test_dflockctl_routes_like_zlib_crc32(self):
        # Inside the network, with the chart's shard list: for each key, while the lock
        # is held, ask every shard (in order) whether it holds it.
        servers = " ".join("--server %s" % s for s in self.shards)
        script = "set -e\n"
        for key in self.KEYS:
            script += "dflockctl %s lock '%s' -- sh -c 'for s in %s; do echo \"$s $(dflockctl --server $s stats --json)\"; done; echo END'\n" % (
                servers, key, " ".join(self.shards))
        result = podman("run", "--rm", "--network", self.network, *self.hosts, "--user", "10001:10001",
                        "--read-only", "--entrypoint", "/bin/sh", IMAGE, "-c", script, timeout=300)
        blocks = result.stdout.split("END\n")
        self.assertEqual(len(blocks), len(self.KEYS) + 1, result.stdout + result.stderr)
        for key, block in zip(self.KEYS, blocks):
            holders = []
            for line in block.strip().splitlines():
                server, stats = line.split(" ", 1)
                if any(lock["key"] == key for lock in json.loads(stats)["locks"]):
                    holders.append(self.shards.index(server))
            self.assertEqual(holders, [zlib.crc32(key.encode()) % 3], key)

    def test_cpp_client_routes_like_zlib_crc32(self):
        example = os.environ.get("DFLOCKD_EXAMPLE_SHARDING",
                                 os.path.join(ROOT, "build", "examples", "example_sharding"))
        self.assertTrue(os.path.exists(example), "build examples/sharding.cc first: " + example)
        before = self.grants()
        servers = ["%s:6388" % ip for ip in self.ips]  # the chart's order, as addresses
        result = run(example, *servers, timeout=60)
        expected = zlib.crc32(b"my-key") % 3
        self.assertIn("my-key -> %s" % servers[expected], result.stdout)
        self.assertIn("on %s" % servers[expected], result.stdout)
        after = self.grants()
        self.assertEqual([a - b for a, b in zip(after, before)],
                         [1 if i == expected else 0 for i in range(3)])


if __name__ == "__main__":
    reason = prepare()
    if reason is not None:
        print("SKIPPED: " + reason)
        sys.exit(SKIP)
    unittest.main()
