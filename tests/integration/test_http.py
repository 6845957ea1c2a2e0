#!/usr/bin/python3
"""REST/JSON with real curl, WebSocket with python3-websockets, health, readiness,
Prometheus metrics (checked by promtool), hostile HTTP, and cross-transport cases.

    DFLOCKD_BIN=build/dflockd tests/integration/test_http.py [-v]
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dflockd_testlib import Server, grant, make_self_signed_cert  # noqa: E402

import websockets  # noqa: E402


class HttpCase(unittest.TestCase):
    server_args = []

    def setUp(self):
        self.server = Server(*self.server_args).start()
        self.base = "http://127.0.0.1:%d" % self.server.http_port

    def tearDown(self):
        problem = self.server.stop_cleanly()
        self.assertIsNone(problem, problem)

    def curl_many(self, *requests, extra=()):
        """Runs several requests over one keep-alive connection (curl --next).
        Each request is (method, path, body or None). Returns [(status, body)]."""
        args = ["curl", "-s", "--max-time", "20"]
        for i, (method, path, body) in enumerate(requests):
            if i:
                args.append("--next")
            args += ["-X", method, "-w", "\n@@%{http_code}@@\n", *extra]
            if body is not None:
                if len(body) > 4096:  # too long for a command line: pass it as a file
                    f = tempfile.NamedTemporaryFile("w", delete=False)
                    f.write(body)
                    f.close()
                    self.addCleanup(os.unlink, f.name)
                    body = "@" + f.name
                args += ["-H", "Content-Type: application/json", "--data-binary", body]
            args.append(self.base + path)
        out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
        results = []
        for chunk in out.split("@@\n"):
            if "\n@@" not in chunk:
                continue
            body, code = chunk.rsplit("\n@@", 1)
            results.append((int(code), body))
        return results

    def curl(self, method, path, body=None, extra=()):
        status, text = self.curl_many((method, path, body), extra=extra)[0]
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text


class Rest(HttpCase):
    def test_lock_cycle(self):
        status, g = self.curl("POST", "/v1/locks/job/acquire", '{"timeout_s":0,"lease_ttl_s":30}')
        self.assertEqual(status, 200)
        self.assertRegex(g["token"], r"^[0-9a-f]{32}$")
        self.assertEqual(g["lease_ttl_s"], 30)
        self.assertEqual(int(g["fence"]), int(g["token"][:16], 16))
        self.assertEqual(self.curl("POST", "/v1/locks/job/acquire", "{}")[0], 409)
        status, r = self.curl("POST", "/v1/locks/job/renew",
                              json.dumps({"token": g["token"], "lease_ttl_s": 60}))
        self.assertEqual((status, r), (200, {"lease_ttl_s": 60}))
        status, stats = self.curl("GET", "/v1/stats")
        self.assertEqual(status, 200)
        self.assertEqual(stats["locks"][0]["key"], "job")
        self.assertEqual(list(stats.keys()), ["connections", "locks", "semaphores", "idle_locks",
                                              "idle_semaphores", "signal_channels"])
        tok = json.dumps({"token": g["token"]})
        self.assertEqual(self.curl("POST", "/v1/locks/job/release", tok), (200, {}))
        status, err = self.curl("POST", "/v1/locks/job/release", tok)
        self.assertEqual((status, err["error"]), (404, "not_held"))

    def test_blocking_acquire_granted_on_release(self):
        _, g = self.curl("POST", "/v1/locks/k/acquire", "{}")
        waiter = subprocess.Popen(["curl", "-s", "-X", "POST", "--data-binary",
                                   '{"timeout_s":10}', self.base + "/v1/locks/k/acquire"],
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        self.curl("POST", "/v1/locks/k/release", json.dumps({"token": g["token"]}))
        out, _ = waiter.communicate(timeout=10)
        self.assertGreater(int(json.loads(out)["fence"]), int(g["fence"]))

    def test_client_disconnect_removes_waiter(self):
        _, g = self.curl("POST", "/v1/locks/k/acquire", "{}")
        r = subprocess.run(["curl", "-s", "--max-time", "1", "-X", "POST", "--data-binary",
                            '{"timeout_s":30}', self.base + "/v1/locks/k/acquire"])
        self.assertNotEqual(r.returncode, 0)
        time.sleep(0.3)
        _, stats = self.curl("GET", "/v1/stats")
        self.assertEqual(stats["locks"][0]["waiters"], 0)
        self.curl("POST", "/v1/locks/k/release", json.dumps({"token": g["token"]}))
        self.assertEqual(self.curl("POST", "/v1/locks/k/acquire", "{}")[0], 200)

    def test_semaphores_and_signals(self):
        for _ in range(2):
            self.assertEqual(self.curl("POST", "/v1/semaphores/pool/acquire", '{"limit":2}')[0], 200)
        status, err = self.curl("POST", "/v1/semaphores/pool/acquire", '{"limit":2}')
        self.assertEqual((status, err["error"]), (409, "timeout"))
        status, err = self.curl("POST", "/v1/semaphores/pool/acquire", '{"limit":3}')
        self.assertEqual((status, err["error"]), (409, "limit_mismatch"))
        status, r = self.curl("POST", "/v1/signals/a.b", '{"payload":"hi"}')
        self.assertEqual((status, r), (200, {"deliveries": 0}))
        # A body over 1 KiB: curl sends `Expect: 100-continue` and waits for it.
        t0 = time.monotonic()
        status, r = self.curl("POST", "/v1/signals/a.b", json.dumps({"payload": "p" * 5000}))
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertEqual(self.curl("POST", "/v1/signals/a.*", '{"payload":"hi"}')[0], 400)

    def test_two_phase_on_one_connection(self):
        _, g = self.curl("POST", "/v1/locks/tp/acquire", "{}")
        results = self.curl_many(("POST", "/v1/locks/tp/enqueue", "{}"),
                                 ("POST", "/v1/locks/tp/enqueue", "{}"),
                                 ("POST", "/v1/locks/tp/wait", '{"timeout_s":0}'),
                                 ("POST", "/v1/locks/tp/wait", '{"timeout_s":0}'))
        self.assertEqual(results[0], (200, '{"status":"queued"}'))
        self.assertEqual(results[1][0], 409)  # already enqueued
        self.assertEqual(results[2][0], 409)  # timeout
        self.assertEqual(json.loads(results[3][1])["error"], "not_enqueued")
        results = self.curl_many(("POST", "/v1/locks/free/enqueue", "{}"),
                                 ("POST", "/v1/locks/free/wait", '{"timeout_s":1}'))
        self.assertEqual(json.loads(results[0][1])["status"], "acquired")
        self.assertEqual(results[1][0], 200)
        self.assertEqual(self.curl("POST", "/v1/locks/tp/wait", '{"timeout_s":0}')[0], 409)

    def test_bad_requests(self):
        cases = [
            ("POST", "/v1/locks/k/acquire", "{bad json", 400, "invalid"),
            ("POST", "/v1/locks/k/acquire", "[1,2]", 400, "invalid"),
            ("POST", "/v1/locks/k/acquire", '{"timeout_s":"ten"}', 400, "invalid"),
            ("POST", "/v1/locks/k/acquire", '{"timeout_s":-1}', 400, "invalid"),
            ("POST", "/v1/locks/a%20b/acquire", "{}", 400, "invalid"),
            ("POST", "/v1/locks/k/release", '{"token":"nope"}', 400, "invalid"),
            ("GET", "/v1/locks/k/acquire", None, 405, "method_not_allowed"),
            ("POST", "/v1/stats", "{}", 405, "method_not_allowed"),
            ("POST", "/v1/locks/k/explode", "{}", 404, "not_found"),
            ("GET", "/nope", None, 404, "not_found"),
            ("GET", "/v1/ws", None, 400, "bad_request"),
        ]
        for method, path, body, status, code in cases:
            got_status, got = self.curl(method, path, body)
            self.assertEqual((got_status, got["error"]), (status, code), (method, path, body))
        big = json.dumps({"payload": "x" * 300000})
        self.assertEqual(self.curl("POST", "/v1/signals/a", big)[0], 413)
        huge_header = ("-H", "X-Junk: " + "j" * 20000)
        self.assertEqual(self.curl("GET", "/healthz", extra=huge_header)[0], 431)
        self.assertEqual(self.curl("GET", "/healthz")[0], 200)

    def test_metrics_pass_promtool_and_change(self):
        status, before = self.curl("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("dflockd_holds 0\n", before)
        self.curl("POST", "/v1/locks/m/acquire", "{}")
        native = self.server.conn()
        grant(native.req("l", "n", "0"))
        _, after = self.curl("GET", "/metrics")
        self.assertIn("dflockd_holds 2\n", after)
        self.assertIn('dflockd_connections{transport="native"} 1', after)
        self.assertIn('dflockd_request_duration_seconds_count{transport="native",command="acquire"} 1',
                      after)
        self.assertIn('transport="http",command="acquire"', after)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is required")
        check = subprocess.run([promtool, "check", "metrics"], input=after, capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_native_latency_counts_every_request_and_the_wait(self):
        def metric(text, name):
            prefix = name + " "
            return [float(line[len(prefix):]) for line in text.splitlines()
                    if line.startswith(prefix)][0]
        series = 'dflockd_request_duration_seconds_%s{transport="native",command="%s"}'
        _, g = self.curl("POST", "/v1/locks/held/acquire", "{}")
        native = self.server.conn()
        # Pipelined in one packet: five pings answered in one turn, each counted.
        native.send_raw("ping\n_\n_\n" * 5)
        self.assertEqual([native.reply() for _ in range(5)], ["ok"] * 5)
        # A lock that waits ~0.4 s for REST's release: its latency includes the wait.
        native.send("l", "held", "10")
        time.sleep(0.4)
        self.curl("POST", "/v1/locks/held/release", json.dumps({"token": g["token"]}))
        grant(native.reply())
        _, text = self.curl("GET", "/metrics")
        self.assertEqual(metric(text, series % ("count", "ping")), 5)
        self.assertLess(metric(text, series % ("sum", "ping")), 0.25)
        self.assertEqual(metric(text, series % ("count", "acquire")), 1)
        self.assertGreaterEqual(metric(text, series % ("sum", "acquire")), 0.35)
        self.assertLess(metric(text, series % ("sum", "acquire")), 5)

    def test_cross_transport_rest_blocks_native(self):
        _, g = self.curl("POST", "/v1/locks/x/acquire", "{}")
        native = self.server.conn()
        self.assertEqual(native.req("l", "x", "0"), "timeout")
        native.send("l", "x", "10")
        time.sleep(0.1)
        self.curl("POST", "/v1/locks/x/release", json.dumps({"token": g["token"]}))
        token, _ = grant(native.reply())
        self.assertEqual(self.curl("POST", "/v1/locks/x/acquire", "{}")[0], 409)
        native.req("r", "x", token)


class Probes(HttpCase):
    def test_health_and_readiness_while_draining(self):
        self.assertEqual(self.curl("GET", "/healthz"), (200, {"status": "ok"}))
        self.assertEqual(self.curl("GET", "/readyz"), (200, {"status": "ready"}))
        native = self.server.conn()  # keeps the server draining rather than exiting
        self.assertEqual(native.req("ping"), "ok")
        self.server.signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertEqual(self.curl("GET", "/healthz")[0], 200)
        self.assertEqual(self.curl("GET", "/readyz"), (503, {"status": "draining"}))
        status, err = self.curl("POST", "/v1/locks/k/acquire", "{}")
        self.assertEqual((status, err["error"]), (503, "draining"))


class Auth(HttpCase):
    server_args = ["--auth-token", "s3cret", "--max-locks", "1"]

    def test_bearer_token(self):
        status, err = self.curl("GET", "/v1/stats")
        self.assertEqual((status, err["error"]), (401, "unauthorized"))
        self.assertEqual(self.curl("GET", "/metrics")[0], 401)
        self.assertEqual(self.curl("GET", "/v1/stats", extra=("-H", "Authorization: Bearer x"))[0],
                         401)
        auth = ("-H", "Authorization: Bearer s3cret")
        self.assertEqual(self.curl("GET", "/v1/stats", extra=auth)[0], 200)
        self.assertEqual(self.curl("GET", "/healthz")[0], 200)
        self.assertEqual(self.curl("GET", "/readyz")[0], 200)
        self.assertEqual(self.curl("POST", "/v1/locks/a/acquire", "{}", extra=auth)[0], 200)
        status, err = self.curl("POST", "/v1/locks/b/acquire", "{}", extra=auth)
        self.assertEqual((status, err["error"]), (429, "max_locks"))


class HostileHttp(HttpCase):
    server_args = ["--read-timeout", "1"]

    def raw(self, data, wait=3.0):
        with socket.create_connection(("127.0.0.1", self.server.http_port)) as s:
            s.sendall(data)
            s.settimeout(wait)
            chunks = []
            try:
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
            except socket.timeout:
                return b"".join(chunks), False
            return b"".join(chunks), True

    def test_garbage_gets_400_and_close(self):
        reply, closed = self.raw(b"BLAH BLAH\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        self.assertTrue(closed)

    def test_slowloris_is_cut_off(self):
        t0 = time.monotonic()
        reply, closed = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", wait=5)
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - t0, 4)

    def test_response_framing_pipelined_http10_and_close(self):
        # Two pipelined keep-alive requests, then one asking to close: three complete
        # responses in order, each framed by its Content-Length, then the close.
        reply, closed = self.raw(
            b"POST /v1/locks/f/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n"
            b'{"timeout_s":0}'
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(closed)
        responses = []
        while reply:
            head, _, rest = reply.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            fields = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}
            length = int(fields["content-length"])
            responses.append((lines[0], fields, rest[:length]))
            reply = rest[length:]
        self.assertEqual([r[0] for r in responses],
                         ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"])
        self.assertRegex(json.loads(responses[0][2])["token"], r"^[0-9a-f]{32}$")
        self.assertEqual(responses[0][1]["content-type"], "application/json")
        self.assertEqual(responses[2][1].get("connection"), "close")
        self.assertEqual(json.loads(responses[2][2])["locks"][0]["key"], "f")
        # HTTP/1.0 is answered in kind and closed after the answer.
        reply, closed = self.raw(b"GET /v1/locks HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 404 Not Found\r\n"), reply)
        self.assertTrue(closed)

    def test_server_survives_and_serves(self):
        for data in [b"\x00\xff" * 1000, b"POST /v1/locks/k/acquire HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                     b"GET / HTTP/9.9\r\n\r\n"]:
            self.raw(data, wait=2)
        self.assertEqual(self.curl("GET", "/healthz")[0], 200)


class WebSocket(HttpCase):
    def ws_url(self):
        return "ws://127.0.0.1:%d/v1/ws" % self.server.http_port

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 20))

    def test_commands_and_errors(self):
        async def go():
            async with websockets.connect(self.ws_url()) as ws:
                async def call(msg):
                    await ws.send(json.dumps(msg))
                    return json.loads(await ws.recv())
                r = await call({"id": 1, "op": "acquire", "key": "k", "lease_ttl_s": 20})
                self.assertEqual((r["type"], r["id"]), ("response", 1))
                token = r["result"]["token"]
                r = await call({"id": 2, "op": "renew", "key": "k", "token": token})
                self.assertEqual(r["result"], {"lease_ttl_s": 33})
                r = await call({"id": 3, "op": "acquire", "key": "k"})
                self.assertEqual(r["error"], "timeout")
                r = await call({"id": "x", "op": "enqueue", "kind": "semaphore", "key": "p",
                                "limit": 2})
                self.assertEqual(r["result"]["status"], "acquired")
                r = await call({"id": 5, "op": "wait", "kind": "semaphore", "key": "p",
                                "timeout_s": 1})
                self.assertIn("token", r["result"])
                r = await call({"id": 6, "op": "bogus"})
                self.assertEqual(r["error"], "invalid")
                await ws.send("not json")
                self.assertEqual(json.loads(await ws.recv())["error"], "invalid")
                r = await call({"id": 7, "op": "release", "key": "k", "token": token})
                self.assertEqual(r["result"], {})
                r = await call({"id": 8, "op": "stats"})
                self.assertEqual(r["result"]["connections"], 1)
                pong = await ws.ping()
                await asyncio.wait_for(pong, 5)
        self.run_async(go())

    def test_signals_from_native_and_rest(self):
        native = self.server.conn()

        async def go():
            async with websockets.connect(self.ws_url()) as ws:
                await ws.send(json.dumps({"id": 1, "op": "listen", "pattern": "news.>"}))
                self.assertEqual(json.loads(await ws.recv())["result"], {})
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: native.req("signal", "news.native", "from native"))
                self.assertEqual(json.loads(await ws.recv()),
                                 {"type": "signal", "channel": "news.native",
                                  "payload": "from native"})
                status, r = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: self.curl("POST", "/v1/signals/news.rest",
                                            '{"payload":"from rest"}'))
                self.assertEqual(r, {"deliveries": 1})
                self.assertEqual(json.loads(await ws.recv())["payload"], "from rest")
        self.run_async(go())

    def test_closing_socket_hands_lock_to_native_waiter(self):
        native = self.server.conn()

        async def go():
            ws = await websockets.connect(self.ws_url())
            await ws.send(json.dumps({"id": 1, "op": "acquire", "key": "h"}))
            self.assertIn("token", json.loads(await ws.recv())["result"])
            native.send("l", "h", "10")
            await asyncio.sleep(0.2)
            await ws.close()
        self.run_async(go())
        grant(native.reply(timeout=5))

    def test_waiting_request_cancelled_when_socket_closes(self):
        native = self.server.conn()
        token, _ = grant(native.req("l", "w", "0"))

        async def go():
            ws = await websockets.connect(self.ws_url())
            await ws.send(json.dumps({"id": 1, "op": "acquire", "key": "w", "timeout_s": 30}))
            await asyncio.sleep(0.2)
            await ws.close()
        self.run_async(go())
        time.sleep(0.2)
        self.assertEqual(native.req("r", "w", token), "ok")
        grant(native.req("l", "w", "0"))  # the closed socket's waiter was not granted


class HttpTls(unittest.TestCase):
    def test_https_and_wss(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        cert, key = make_self_signed_cert(d.name)
        server = Server("--tls-cert", cert, "--tls-key", key).start()
        try:
            url = "https://localhost:%d" % server.http_port
            out = subprocess.run(["curl", "-s", "--cacert", cert, "-X", "POST", "--data-binary",
                                  "{}", url + "/v1/locks/k/acquire"],
                                 capture_output=True, text=True, timeout=10).stdout
            self.assertRegex(json.loads(out)["token"], r"^[0-9a-f]{32}$")
            plain = subprocess.run(["curl", "-s", "--max-time", "3",
                                    "http://127.0.0.1:%d/healthz" % server.http_port],
                                   capture_output=True, text=True)
            self.assertNotIn('"ok"', plain.stdout)

            async def go():
                import ssl
                ctx = ssl.create_default_context(cafile=cert)
                async with websockets.connect("wss://localhost:%d/v1/ws" % server.http_port,
                                              ssl=ctx) as ws:
                    await ws.send(json.dumps({"id": 1, "op": "ping"}))
                    return json.loads(await ws.recv())
            self.assertEqual(asyncio.run(go())["result"], {})
        finally:
            problem = server.stop_cleanly()
        self.assertIsNone(problem, problem)


if __name__ == "__main__":
    unittest.main()
