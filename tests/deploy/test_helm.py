#!/usr/bin/python3
"""The Helm chart, with a real helm (scripts/install-helm.sh): `helm lint --strict` for
the defaults and every example, every rendered manifest deserialized into the
Kubernetes API models (Debian's python3-kubernetes) with unknown fields rejected, the
chart's contract (probes on real paths and ports, grace period > drain, secrets
mounted where the env says, security context, shard order), and bad values refused
at render time with a clear message.

    tests/deploy/test_helm.py [-v]
"""
import os
import re
import subprocess
import sys
import unittest

import yaml
from kubernetes import client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "dflockd")
EXAMPLES = sorted(os.path.join(CHART, "examples", f)
                  for f in os.listdir(os.path.join(CHART, "examples")) if f.endswith(".yaml"))
HELM = subprocess.run([os.path.join(ROOT, "scripts", "install-helm.sh")], check=True,
                      capture_output=True, text=True).stdout.strip().splitlines()[-1]

MODELS = {
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Pod"): "V1Pod",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}
API = client.ApiClient()


def helm(*args, check=True):
    result = subprocess.run([HELM, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError("helm %s failed:\n%s%s" % (" ".join(args), result.stdout, result.stderr))
    return result


def render(*values_args, namespace="default", release="locks"):
    out = helm("template", release, CHART, "--namespace", namespace, *values_args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


_server_env = None


def server_env_names():
    """The DFLOCKD_* variables `dflockd --help` lists (empty without DFLOCKD_BIN)."""
    global _server_env
    if _server_env is None:
        binary = os.environ.get("DFLOCKD_BIN")
        text = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout if binary else ""
        _server_env = set(re.findall(r"DFLOCKD_[A-Z0-9_]+", text))
    return _server_env


def unknown_fields(data, model_name, path="$"):
    """Paths of keys in `data` that the API model does not define (the Python client
    silently drops them, a real API server would reject or ignore them)."""
    if data is None:
        return []
    if model_name.startswith("list["):
        inner = model_name[5:-1]
        return [p for i, item in enumerate(data) for p in unknown_fields(item, inner, "%s[%d]" % (path, i))]
    if model_name.startswith("dict("):
        return []
    model = getattr(client.models, model_name, None)
    if model is None:  # a primitive (str, int, object, …)
        return []
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    problems = []
    for key, value in data.items():
        if model_name == "V1Probe" and key == "grpc" and key not in by_json:
            # Debian's client (API 1.22) predates gRPC probes (GA in 1.27): V1GRPCAction
            # is {port: int32 (required), service: string}.
            if not isinstance(value.get("port"), int) or set(value) - {"port", "service"}:
                problems.append("%s.grpc" % path)
            continue
        if key not in by_json:
            problems.append("%s.%s" % (path, key))
        else:
            problems += unknown_fields(value, model.openapi_types[by_json[key]], "%s.%s" % (path, key))
    return problems


def deserialize(doc):
    """The typed API object for a rendered manifest; fails on unknown kinds/fields."""
    name = MODELS.get((doc["apiVersion"], doc["kind"]))
    if name is None:
        raise AssertionError("no API model for %s %s" % (doc["apiVersion"], doc["kind"]))
    problems = unknown_fields(doc, name)
    if problems:
        raise AssertionError("%s has unknown fields: %s" % (doc["kind"], problems))
    return API._ApiClient__deserialize(doc, name)


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


class Lint(unittest.TestCase):
    def test_defaults_and_every_example(self):
        self.assertGreaterEqual(len(EXAMPLES), 3)
        for values in [None] + EXAMPLES:
            args = ["lint", "--strict", CHART] + (["-f", values] if values else [])
            result = helm(*args, check=False)
            self.assertEqual(result.returncode, 0, "%s:\n%s" % (values, result.stdout + result.stderr))
            self.assertNotIn("[WARNING]", result.stdout)
            self.assertNotIn("[ERROR]", result.stdout)


class Manifests(unittest.TestCase):
    """Every rendering (defaults and examples) against the API models and the contract."""

    def renderings(self):
        yield "defaults", render()
        for values in EXAMPLES:
            yield os.path.basename(values), render("-f", values, namespace="prod")

    def test_every_manifest_is_a_valid_api_object(self):
        for name, docs in self.renderings():
            with self.subTest(values=name):
                for doc in docs:
                    if doc["kind"] == "ServiceMonitor":
                        self.check_service_monitor(doc)
                        continue
                    obj = deserialize(doc)
                    self.assertTrue(obj.metadata.name)
                    self.assertLessEqual(len(obj.metadata.name), 63)

    def check_service_monitor(self, doc):
        self.assertEqual(doc["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(set(doc["spec"]), {"namespaceSelector", "selector", "endpoints"})
        for endpoint in doc["spec"]["endpoints"]:
            self.assertEqual(endpoint["port"], "http")
            self.assertEqual(endpoint["path"], "/metrics")

    def test_contract(self):
        for name, docs in self.renderings():
            with self.subTest(values=name):
                self.check_contract(docs)

    def check_contract(self, docs):
        dflockd_sets = [d for d in by_kind(docs, "StatefulSet")
                        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "etcd"]
        # One StatefulSet, or (durable shards) one per shard, each its shard's replicas.
        for sts_doc in dflockd_sets:
            self.check_stateful_set(docs, sts_doc, dflockd_sets)

    def check_stateful_set(self, docs, sts_doc, dflockd_sets):
        sts = deserialize(sts_doc)
        pod = sts.spec.template.spec
        (container,) = pod.containers
        env = {e.name: e.value for e in container.env}
        ports = {p.name: p.container_port for p in container.ports}

        # Ports: what the server is told is what the pod declares.
        self.assertEqual(int(env["DFLOCKD_PORT"]), ports["native"])
        for name, var in (("http", "DFLOCKD_HTTP_PORT"), ("grpc", "DFLOCKD_GRPC_PORT")):
            if int(env[var]) == 0:
                self.assertNotIn(name, ports)
            else:
                self.assertEqual(int(env[var]), ports[name])
        self.assertEqual(env["DFLOCKD_HOST"], "0.0.0.0")

        # Probes: real paths on the HTTP port, or gRPC health on the gRPC port.
        expected_paths = {"readiness_probe": "/readyz", "liveness_probe": "/healthz",
                          "startup_probe": "/healthz"}
        for attr, path in expected_paths.items():
            probe = getattr(container, attr)
            self.assertIsNotNone(probe, attr)
            if probe.http_get is not None:
                self.assertEqual(probe.http_get.path, path)
                self.assertIn(probe.http_get.port, ("http", ports.get("http")))
                self.assertEqual(probe.http_get.scheme, "HTTPS" if "DFLOCKD_TLS_CERT" in env else "HTTP")
            elif probe.tcp_socket is not None:
                self.assertEqual(probe.tcp_socket.port, "native")
            else:  # gRPC health (not in the Debian model: read from the manifest)
                raw = sts_doc["spec"]["template"]["spec"]["containers"][0][
                    {"readiness_probe": "readinessProbe", "liveness_probe": "livenessProbe",
                     "startup_probe": "startupProbe"}[attr]]
                self.assertEqual(raw["grpc"]["port"], ports["grpc"])
                self.assertNotIn("DFLOCKD_TLS_CERT", env)  # kubelet's gRPC probe is plaintext
            self.assertGreaterEqual(probe.period_seconds, 1)

        # Every setting the chart passes is one the server reads (a misspelt variable
        # would be ignored silently).
        known = server_env_names()
        if known:
            self.assertEqual(sorted(n for n in env if n.startswith("DFLOCKD_") and n not in known), [])

        # Graceful rollout: the pod outlives the drain.
        self.assertGreater(pod.termination_grace_period_seconds, int(env["DFLOCKD_SHUTDOWN_TIMEOUT_S"]))
        self.assertEqual(sts.spec.pod_management_policy, "Parallel")

        # Files the server is told to read or write are where the volumes are.
        mounts = {m.mount_path: m for m in container.volume_mounts}
        volumes = {v.name: v for v in (pod.volumes or [])}
        claim_names = {c.metadata.name for c in (sts.spec.volume_claim_templates or [])}

        def volume_at(path):
            directory = os.path.dirname(path)
            self.assertIn(directory, mounts, "%s is not on a mounted volume" % path)
            return mounts[directory].name

        durable = "DFLOCKD_ETCD_ENDPOINTS" in env
        if durable:
            # Holds and fences live in etcd; each replica advertises its pod address.
            self.assertNotIn("DFLOCKD_FENCE_STATE_FILE", env)
            self.assertNotIn("DFLOCKD_RESTART_GRACE_S", env)
            self.assertEqual(env["DFLOCKD_ADVERTISE_ADDRESS"], "$(POD_IP):%d" % ports["native"])
            names = [e.name for e in container.env]
            self.assertLess(names.index("POD_IP"), names.index("DFLOCKD_ADVERTISE_ADDRESS"))
            self.assertIsNotNone(pod.affinity.pod_anti_affinity)
            etcd_sets = [d for d in by_kind(docs, "StatefulSet") if d not in dflockd_sets]
            for member in env["DFLOCKD_ETCD_ENDPOINTS"].split(","):
                host, port = member.rsplit(":", 1)
                self.assertTrue(port.isdigit())
                if etcd_sets:  # deployed here: the endpoints are its pods
                    self.assertTrue(host.startswith(etcd_sets[0]["metadata"]["name"] + "-"), host)
        else:
            data = volume_at(env["DFLOCKD_FENCE_STATE_FILE"])
            self.assertTrue(data in claim_names or (data in volumes and volumes[data].empty_dir is not None))
        if "DFLOCKD_AUTH_TOKEN_FILE" in env:
            volume = volumes[volume_at(env["DFLOCKD_AUTH_TOKEN_FILE"])]
            (secret,) = [d for d in by_kind(docs, "Secret")] or [None]
            self.assertIsNotNone(volume.secret)
            if secret is not None:
                self.assertEqual(volume.secret.secret_name, secret["metadata"]["name"])
                self.assertIn(os.path.basename(env["DFLOCKD_AUTH_TOKEN_FILE"]), secret["data"])
                self.assertEqual(secret["metadata"]["annotations"]["helm.sh/resource-policy"], "keep")
        if "DFLOCKD_TLS_CERT" in env:
            for var in ("DFLOCKD_TLS_CERT", "DFLOCKD_TLS_KEY"):
                volume = volumes[volume_at(env[var])]
                self.assertIsNotNone(volume.secret)
            self.assertEqual(os.path.basename(env["DFLOCKD_TLS_CERT"]), "tls.crt")
            self.assertEqual(os.path.basename(env["DFLOCKD_TLS_KEY"]), "tls.key")

        # Security context.
        psc, csc = pod.security_context, container.security_context
        self.assertTrue(psc.run_as_non_root)
        self.assertNotEqual(psc.run_as_user, 0)
        self.assertEqual(psc.seccomp_profile.type, "RuntimeDefault")
        self.assertTrue(csc.read_only_root_filesystem)
        self.assertFalse(csc.allow_privilege_escalation)
        self.assertEqual(csc.capabilities.drop, ["ALL"])
        self.assertFalse(pod.automount_service_account_token)
        self.assertIsNotNone(container.resources.requests)

        # Services select the pods and expose the declared ports; headless = shard names.
        labels = sts.spec.template.metadata.labels
        services = [deserialize(d) for d in by_kind(docs, "Service")
                    if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "etcd"]
        shard_services = [svc for svc in services if "dflockd.io/shard" in svc.spec.selector]
        self.assertEqual(len(shard_services), len(dflockd_sets) if len(dflockd_sets) > 1 else 0)
        services = [svc for svc in services if svc not in shard_services]
        self.assertEqual(len(services), 2)
        headless = [s for s in services if s.spec.cluster_ip == "None"]
        self.assertEqual(len(headless), 1)
        self.assertEqual(sts.spec.service_name, headless[0].metadata.name)
        self.assertTrue(headless[0].spec.publish_not_ready_addresses)
        for service in services:
            for key, value in service.spec.selector.items():
                self.assertEqual(labels[key], value)
            self.assertEqual({p.target_port for p in service.spec.ports}, set(ports))

        pdbs = by_kind(docs, "PodDisruptionBudget")
        self.assertEqual(len(pdbs), 1)
        for key, value in deserialize(pdbs[0]).spec.selector.match_labels.items():
            self.assertEqual(sts.spec.selector.match_labels[key], value)
        if len(dflockd_sets) > 1:
            # Durable shards: the pods of shard i, their Service, their shard list entry.
            shard = sts.spec.selector.match_labels["dflockd.io/shard"]
            self.assertEqual(env["DFLOCKD_SHARD_SELF"], shard)
            self.assertTrue(env["DFLOCKD_ETCD_PREFIX"].endswith("/" + shard))
            (svc,) = [svc for svc in shard_services if svc.spec.selector["dflockd.io/shard"] == shard]
            self.assertEqual(env["DFLOCKD_SHARDS"].split(",")[int(shard)].split(".")[0], svc.metadata.name)
            for key, value in svc.spec.selector.items():
                self.assertEqual(labels[key], value)
            anti = pod.affinity.pod_anti_affinity
            terms = anti.required_during_scheduling_ignored_during_execution or \
                [t.pod_affinity_term for t in anti.preferred_during_scheduling_ignored_during_execution]
            self.assertEqual(terms[0].label_selector.match_labels["dflockd.io/shard"], shard)

        # The helm test pod checks every shard, in routing order.
        (test_pod,) = [deserialize(d) for d in by_kind(docs, "Pod")]
        self.assertEqual(test_pod.metadata.annotations["helm.sh/hook"], "test")
        test_env = {e.name: e.value for e in test_pod.spec.containers[0].env}
        shards = test_env["SHARDS"].split(",")
        self.assertEqual(len(shards), sum(d["spec"]["replicas"] for d in dflockd_sets))
        mine = [a for a in shards if a.startswith(sts.metadata.name + "-")
                and a[len(sts.metadata.name) + 1:].split(".")[0].isdigit()]
        self.assertEqual(len(mine), sts.spec.replicas)
        for i, address in enumerate(mine):
            self.assertTrue(address.startswith("%s-%d.%s." % (sts.metadata.name, i, headless[0].metadata.name)),
                            address)
            self.assertTrue(address.endswith(":%d" % ports["native"]))
        if "DFLOCKD_AUTH_TOKEN_FILE" in env:
            self.assertIn("DFLOCKCTL_AUTH_TOKEN_FILE", test_env)
        if "DFLOCKD_TLS_CERT" in env:
            self.assertIn("DFLOCKCTL_TLS_CA", test_env)

    def test_metrics_annotations_follow_the_http_port(self):
        (sts,) = by_kind(render(), "StatefulSet")
        annotations = sts["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/port"], "6389")
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")

    def test_every_server_setting_is_a_value(self):
        (sts,) = by_kind(render("--set", "server.maxWaiters=7", "--set", "server.logLevel=debug",
                                "--set", "server.signalQueueSize=9",
                                "--set-json", 'extraArgs=["--max-locks","99"]',
                                "--set", "extraEnv[0].name=FOO", "--set", "extraEnv[0].value=bar"),
                         "StatefulSet")
        container = sts["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        self.assertEqual(env["DFLOCKD_MAX_WAITERS"], "7")
        self.assertEqual(env["DFLOCKD_LOG_LEVEL"], "debug")
        self.assertEqual(env["DFLOCKD_SIGNAL_QUEUE_SIZE"], "9")
        self.assertEqual(env["FOO"], "bar")
        self.assertEqual(container["args"], ["--max-locks", "99"])
        # Every DFLOCKD_* the server reads (README's configuration table) is set.
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        documented = set(re.findall(r"\| `--[a-z-]+` \| `(DFLOCKD_[A-Z_]+)`", readme))
        # Durable mode's settings are set when it is on.
        (durable_sts,) = [d for d in by_kind(render("-f", os.path.join(CHART, "examples", "durable-etcd.yaml"),
                                                     "--set", "durable.etcd.existingSecret=etcd-creds",
                                                     "--set", "durable.etcd.tls.enabled=true",
                                                     "--set", "durable.etcd.tls.existingSecret=etcd-tls",
                                                     "--set", "durable.etcd.tls.clientCertificate=true"),
                                              "StatefulSet")
                          if d["metadata"]["labels"].get("app.kubernetes.io/component") != "etcd"]
        env.update({e["name"]: e.get("value") for e in
                    durable_sts["spec"]["template"]["spec"]["containers"][0]["env"]})
        not_for_the_chart = {"DFLOCKD_DEBUG", "DFLOCKD_AUTH_TOKEN", "DFLOCKD_AUTH_TOKEN_FILE",
                             "DFLOCKD_TLS_CERT", "DFLOCKD_TLS_KEY",
                             # derived from `shards` (test_shard_routing); the shared
                             # certificate is the peers' trust anchor
                             "DFLOCKD_SHARDS", "DFLOCKD_SHARD_SELF", "DFLOCKD_SHARD_TLS_CA",
                             # the Secret's password reaches the server as a file
                             "DFLOCKD_ETCD_PASSWORD"}
        missing = documented - not_for_the_chart - set(env)
        self.assertFalse(missing, "settings with no chart value: %s" % sorted(missing))


    def test_shard_routing(self):
        docs = render("--set", "shards=3", "--set", "networkPolicy.enabled=true",
                      "--set", "networkPolicy.allowSameNamespace=false", release="locks")
        (sts,) = by_kind(docs, "StatefulSet")
        env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
        shards = env["DFLOCKD_SHARDS"].split(",")
        self.assertEqual(shards, ["locks-dflockd-%d.locks-dflockd-headless.default.svc.cluster.local:6388" % i
                                  for i in range(3)])
        self.assertEqual(env["DFLOCKD_SHARD_SELF"], "auto")  # the pod name's ordinal
        (policy,) = by_kind(docs, "NetworkPolicy")
        peer_rules = [r for r in policy["spec"]["ingress"]
                      if any("podSelector" in f and f["podSelector"].get("matchLabels") for f in r.get("from", []))]
        self.assertEqual(len(peer_rules), 1, "shards must reach each other's native port")
        # One shard, or routing off: nothing to route.
        for args in (["--set", "shards=1"], ["--set", "shards=3", "--set", "shardRouting=false"]):
            (sts,) = by_kind(render(*args), "StatefulSet")
            names = {e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
            self.assertNotIn("DFLOCKD_SHARDS", names)


class BadValues(unittest.TestCase):
    """Refused at render (and so at install) time, saying what is wrong."""

    CASES = [
        (["--set", "shards=0"], "shards: Must be greater than or equal to 1"),
        (["--set", "ports.native=70000"], "ports.native: Must be less than or equal to 65535"),
        (["--set", "ports.grpc=-1"], "ports.grpc: Must be greater than or equal to 0"),
        (["--set", "tls.enabled=true"], "tls.existingSecret"),
        (["--set", "terminationGracePeriodSeconds=30"],
         "terminationGracePeriodSeconds (30) must be larger than server.shutdownTimeoutSeconds (30)"),
        (["--set", "server.logLevel=loud"], "server.logLevel"),
        (["--set", "server.defaultLeaseTtlSeconds=0"], "server.defaultLeaseTtlSeconds"),
        (["--set", "shard=3"], "Additional property shard is not allowed"),
        (["--set", "probes.type=grpc", "--set", "tls.enabled=true", "--set", "tls.existingSecret=x"],
         "kubelet's gRPC probe speaks plaintext"),
        (["--set", "metrics.serviceMonitor.enabled=true", "--set", "ports.http=0"],
         "metrics.serviceMonitor needs ports.http"),
        (["--set", "durable.enabled=true"], "durable.enabled needs durable.etcd.endpoints"),
        (["--set", "durable.enabled=true", "--set", "durable.etcd.deploy=true", "--set", "shards=2",
          "--set", "shardRouting=false"], "durable.enabled with several shards needs shardRouting: true"),
        (["--set", "durable.enabled=true", "--set", "durable.replicas=1"],
         "durable.replicas: Must be greater than or equal to 2"),
    ]

    def test_bad_values(self):
        for args, message in self.CASES:
            with self.subTest(args=args):
                result = helm("template", "locks", CHART, *args, check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(message, result.stderr)


class Probes(unittest.TestCase):
    def probe(self, *args):
        (sts,) = by_kind(render(*args), "StatefulSet")
        return sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]

    def test_auto_choice(self):
        self.assertEqual(self.probe()["httpGet"]["path"], "/readyz")
        self.assertEqual(self.probe("--set", "ports.http=0")["grpc"]["port"], 6390)
        tls_no_http = self.probe("--set", "ports.http=0", "--set", "tls.enabled=true",
                                 "--set", "tls.existingSecret=s")
        self.assertEqual(tls_no_http["tcpSocket"]["port"], "native")


if __name__ == "__main__":
    unittest.main()
