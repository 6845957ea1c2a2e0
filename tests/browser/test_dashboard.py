#!/usr/bin/python3
"""The /ui dashboard in Debian's headless Chromium, driven over the DevTools protocol:
a lock taken over the native port shows up with its fence within a second, a waiter
queues behind it, the row goes when the key is free, a published signal moves the
counter, the page is usable at phone width, and with auth on it refuses until the
token is entered. Saves docs/img/dashboard.png (the README's screenshot).

Exit status 77 (ctest: skipped) only when Chromium cannot start on this machine.

    DFLOCKD_BIN=build/dflockd tests/browser/test_dashboard.py [-v]
"""
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from dflockd_testlib import Server, fence, grant  # noqa: E402

import websockets  # noqa: E402

SCREENSHOT = os.environ.get("DFLOCKD_SCREENSHOT", os.path.join(ROOT, "docs", "img", "dashboard.png"))


class Browser:
    """One headless Chromium and one page, over the DevTools protocol."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="dflockd-chromium-")
        self.proc = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox",
             "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--window-size=1280,860", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        self.browser_url = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                self.browser_url = m.group(1)
                break
        if self.browser_url is None:
            self.close()
            raise RuntimeError("chromium did not start")
        port = re.search(r":(\d+)/", self.browser_url).group(1)
        with urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port, timeout=10) as r:
            pages = [t for t in json.loads(r.read()) if t["type"] == "page"]
        self.page_url = pages[0]["webSocketDebuggerUrl"]
        self.ws = None
        self.next_id = 0

    async def connect(self):
        self.ws = await websockets.connect(self.page_url, max_size=None)
        await self.send("Page.enable")
        await self.send("Runtime.enable")

    async def send(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    async def eval(self, expression):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError("%s: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression, timeout=5.0):
        """Polls a JS expression until it is truthy; returns (value, seconds taken)."""
        started = time.monotonic()
        while True:
            value = await self.eval(expression)
            if value:
                return value, time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError("timed out waiting for: " + expression)
            await asyncio.sleep(0.05)

    async def open(self, url):
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def screenshot(self, path):
        data = await self.send("Page.captureScreenshot", format="png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def row_text(key):
    return "(() => { const r = document.querySelector('tr[data-id=\"l:%s\"]'); " \
           "return r ? r.innerText : ''; })()" % key


class Dashboard(unittest.TestCase):
    def run_async(self, coro):
        return asyncio.run(coro)

    def browser(self):
        b = Browser()
        self.addCleanup(b.close)
        return b

    def test_live_locks_waiters_signals_and_the_screenshot(self):
        server = Server().start()
        self.addCleanup(server.stop)
        b = self.browser()

        async def run():
            await b.connect()
            await b.open("http://127.0.0.1:%d/ui" % server.http_port)
            await b.wait_for("document.getElementById('status').textContent === 'live'")
            # A lock over the native port: its row, with the fence, within a second.
            holder = server.conn()
            token, _ = grant(holder.req("l", "jobs.nightly-backup", "0 60"))
            text, took = await b.wait_for(row_text("jobs.nightly-backup"), timeout=3)
            self.assertLess(took, 1.0)
            self.assertIn(str(fence(token)), text)
            self.assertIn("native", text)
            # A waiter queues behind it.
            waiter = server.conn()
            waiter.send("l", "jobs.nightly-backup", "30 60")
            await b.wait_for(row_text("jobs.nightly-backup") + ".includes('1. waiting')")
            # Something for the screenshot: a semaphore, a second lock, a listener.
            grant(server.conn().req("sl", "gpu-pool", "0 4 120"))
            grant(server.conn().req("sl", "gpu-pool", "0 4 120"))
            grant(server.conn().req("l", "orders.eu.42", "0 45"))
            listener = server.conn()
            self.assertEqual(listener.req("listen", "events.>"), "ok")
            self.assertEqual(server.conn().req("signal", "events.deploy", "v2"), "ok 1")
            await b.wait_for("Number(document.getElementById('published').textContent) >= 1",
                             timeout=5)
            await b.wait_for("document.getElementById('channels').innerText.includes('events.>')",
                             timeout=5)
            await asyncio.sleep(2.5)  # two metric samples for the charts
            await b.screenshot(SCREENSHOT)
            # Release: the waiter is granted (new fence), then the row goes.
            self.assertEqual(holder.req("r", "jobs.nightly-backup", token), "ok")
            t2, _ = grant(waiter.reply())
            await b.wait_for(row_text("jobs.nightly-backup") + ".includes('%d')" % fence(t2))
            self.assertEqual(waiter.req("r", "jobs.nightly-backup", t2), "ok")
            await b.wait_for("!document.querySelector('tr[data-id=\"l:jobs.nightly-backup\"]')")
            # The events feed saw it all.
            feed = await b.eval("document.getElementById('events').innerText")
            for word in ("granted jobs.nightly-backup", "queued jobs.nightly-backup",
                         "released jobs.nightly-backup"):
                self.assertIn(word, feed)
            # Another signal moves the counter.
            before = int(await b.eval("document.getElementById('published').textContent"))
            server.conn().req("signal", "events.deploy", "v3")
            await b.wait_for("Number(document.getElementById('published').textContent) > %d" % before,
                             timeout=5)
            # Phone width: nothing wider than the screen.
            await b.send("Emulation.setDeviceMetricsOverride", width=390, height=800,
                         deviceScaleFactor=2, mobile=True)
            await asyncio.sleep(0.3)
            wide = await b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
            self.assertTrue(wide, "horizontal overflow at 390 px")
        self.run_async(run())
        self.assertGreater(os.path.getsize(SCREENSHOT), 10000)

    def test_with_auth_the_page_refuses_until_the_token_is_entered(self):
        server = Server("--auth-token", "s3cret").start()
        self.addCleanup(server.stop)
        b = self.browser()

        async def run():
            await b.connect()
            await b.open("http://127.0.0.1:%d/ui" % server.http_port)
            await b.wait_for("document.getElementById('login').classList.contains('show')")
            grant(server.conn().req("auth", "_", "s3cret") and server.conns[-1].req("l", "secret.k", "0 30"))
            await asyncio.sleep(0.5)
            self.assertEqual(await b.eval(row_text("secret.k")), "")  # nothing shown
            # A wrong token is refused.
            await b.eval("document.getElementById('token').value = 'nope';"
                         "document.getElementById('login-form').requestSubmit(); true")
            await b.wait_for("document.getElementById('login').classList.contains('show') && "
                             "document.getElementById('login-err').textContent === 'wrong token'")
            # The right one: live, and the lock shows up.
            await b.eval("document.getElementById('token').value = 's3cret';"
                         "document.getElementById('login-form').requestSubmit(); true")
            await b.wait_for("document.getElementById('status').textContent === 'live'")
            await b.wait_for(row_text("secret.k") + ".length > 0")
            self.assertEqual(await b.eval("sessionStorage.getItem('dflockd.token')"), "s3cret")
        self.run_async(run())


if __name__ == "__main__":
    try:
        Browser().close()
    except (OSError, RuntimeError) as e:
        print("SKIPPED: headless Chromium cannot start here (%s)" % e)
        sys.exit(77)
    unittest.main()
