#!/usr/bin/python3
"""Black-box conformance suite for the dflockd native protocol (port 6388).

Runs against any dflockd-compatible server started with default settings:

    tests/conformance/conformance.py --addr 127.0.0.1:6388 [-v] [-k pattern]
    tests/conformance/conformance.py --spawn build/dflockd    # start a server for the run

Every case uses its own random keys, so a shared server is fine. Needs only the
Python standard library.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dflockd_testlib import Conn, Server, fence, grant, unique  # noqa: E402

ADDR = ("127.0.0.1", 6388)


class Base(unittest.TestCase):
    def conn(self):
        c = Conn(*ADDR)
        self.addCleanup(c.close)
        return c


class Framing(Base):
    def test_ping(self):
        c = self.conn()
        self.assertEqual(c.req("ping", "_", "_"), "ok")
        self.assertEqual(c.req("ping", "anything", "at all"), "ok")

    def test_crlf_accepted(self):
        c = self.conn()
        key = unique()
        c.send_raw("l\r\n%s\r\n5\r\n" % key)
        token, _ = grant(c.reply())
        c.send_raw("r\r\n%s\r\n%s\r\n" % (key, token))
        self.assertEqual(c.reply(), "ok")

    def test_unknown_command_keeps_connection(self):
        c = self.conn()
        self.assertEqual(c.req("bogus", "k", "x"), "error")
        self.assertEqual(c.req("", "", ""), "error")
        self.assertEqual(c.req("L", "k", "1"), "error")
        self.assertEqual(c.req("ping"), "ok")

    def test_pipelined_requests_answered_in_order(self):
        c = self.conn()
        k1, k2 = unique("p1"), unique("p2")
        c.send_raw("ping\n_\n_\nl\n%s\n0\nl\n%s\n0 7\nbogus\n_\n_\nl\n%s\n0\n" % (k1, k2, k1))
        self.assertEqual(c.reply(), "ok")
        grant(c.reply())
        self.assertEqual(grant(c.reply())[1], 7)
        self.assertEqual(c.reply(), "error")
        self.assertEqual(c.reply(), "timeout")

    def test_request_split_across_writes(self):
        c = self.conn()
        key = unique()
        for piece in ["l", "\n", key[:3], key[3:] + "\n", "0", " 9", "\n"]:
            c.send_raw(piece)
            time.sleep(0.02)
        self.assertEqual(grant(c.reply())[1], 9)

    def test_requests_behind_a_waiting_command_keep_their_order(self):
        # One write carries a lock that has to wait, a request behind it and half of a
        # third: nothing behind the wait may be answered (or lost) before its grant.
        key = unique()
        holder, c = self.conn(), self.conn()
        token, _ = grant(holder.req("l", key, "0"))
        c.send_raw("l\n%s\n10\nping\n_\n_\npi" % key)
        self.assertTrue(c.no_data(0.2), "answered before the lock was granted")
        c.send_raw("ng\n_\n_\n")
        self.assertTrue(c.no_data(0.1), "answered before the lock was granted")
        self.assertEqual(holder.req("r", key, token), "ok")
        grant(c.reply())
        self.assertEqual(c.reply(), "ok")
        self.assertEqual(c.reply(), "ok")

    def test_256_byte_key_ok_257_closes(self):
        c = self.conn()
        key = ("k%d-" % time.monotonic_ns()).ljust(256, "x")
        token, _ = grant(c.req("l", key, "0"))
        self.assertEqual(c.req("r", key, token), "ok")
        c.send("l", key + "x", "0")
        self.assertEqual(c.reply(), "error")
        self.assertTrue(c.is_closed())

    def test_oversize_arg_line_closes(self):
        c = self.conn()
        c.send("l", unique(), "1" * 300)
        self.assertEqual(c.reply(), "error")
        self.assertTrue(c.is_closed())

    def test_empty_arg_line(self):
        c = self.conn()
        key = unique()
        token, _ = grant(c.req("e", key, ""))
        self.assertEqual(c.req("r", key, token), "ok")
        self.assertEqual(c.req("l", unique(), ""), "error")

    def test_arbitrary_bytes_in_keys(self):
        c = self.conn()
        key = unique() + "\xff\xfe\x01"
        token, _ = grant(c.req("l", key, "0"))
        stats = json.loads(c.req("stats")[3:])
        self.assertIsInstance(stats["locks"], list)
        self.assertEqual(c.req("r", key, token), "ok")


class Locks(Base):
    def test_grant_format_and_lease(self):
        c = self.conn()
        key = unique()
        token, ttl = grant(c.req("l", key, "5 17"))
        self.assertEqual(ttl, 17)
        self.assertEqual(c.req("r", key, token), "ok")
        token, ttl = grant(c.req("l", key, "5"))
        self.assertGreater(ttl, 0)

    def test_try_lock_and_timeout(self):
        a, b = self.conn(), self.conn()
        key = unique()
        grant(a.req("l", key, "0"))
        self.assertEqual(b.req("l", key, "0"), "timeout")
        t0 = time.monotonic()
        self.assertEqual(b.req("l", key, "1"), "timeout")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_release_hands_over_fifo(self):
        key = unique()
        holder = self.conn()
        token, _ = grant(holder.req("l", key, "0"))
        waiters = []
        for i in range(5):
            w = self.conn()
            w.send("l", key, "30")
            waiters.append(w)
            time.sleep(0.05)  # fix the arrival order
        self.assertEqual(holder.req("r", key, token), "ok")
        for i, w in enumerate(waiters):
            for later in waiters[i + 1:]:
                self.assertTrue(later.no_data(0.05), "waiter granted out of order")
            tok, _ = grant(w.reply())
            self.assertEqual(w.req("r", key, tok), "ok")

    def test_not_reentrant(self):
        c = self.conn()
        key = unique()
        grant(c.req("l", key, "0"))
        self.assertEqual(c.req("l", key, "0"), "timeout")

    def test_release_errors(self):
        c = self.conn()
        key = unique()
        token, _ = grant(c.req("l", key, "0"))
        self.assertEqual(c.req("r", unique("none"), token), "error")
        self.assertEqual(c.req("r", key, "0" * 32), "error")
        self.assertEqual(c.req("r", key, ""), "error")
        self.assertEqual(c.req("r", key, token + " extra"), "error")
        self.assertEqual(c.req("sr", key, token), "error")  # separate namespace
        self.assertEqual(c.req("r", key, token), "ok")
        self.assertEqual(c.req("r", key, token), "error")

    def test_release_from_other_connection(self):
        a, b = self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0"))
        self.assertEqual(b.req("r", key, token), "ok")

    def test_renew(self):
        c = self.conn()
        key = unique()
        token, _ = grant(c.req("l", key, "0 5"))
        self.assertEqual(c.req("n", key, token + " 40"), "ok 40")
        stats = json.loads(c.req("stats")[3:])
        mine = [l for l in stats["locks"] if l["key"] == key]
        self.assertGreater(mine[0]["lease_expires_in_s"], 30)
        self.assertEqual(c.req("n", key, "f" * 32), "error")
        self.assertEqual(c.req("n", unique(), token), "error")
        self.assertEqual(c.req("n", key, ""), "error")
        self.assertEqual(c.req("n", key, token + " 0"), "error")

    def test_lease_expiry_hands_over(self):
        a, b = self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0 1"))
        b.send("l", key, "10")
        t0 = time.monotonic()
        grant(b.reply(timeout=5))
        self.assertLess(time.monotonic() - t0, 3.5)
        self.assertEqual(a.req("n", key, token), "error")
        self.assertEqual(a.req("r", key, token), "error")

    def test_renew_of_expired_lease_fails(self):
        c = self.conn()
        key = unique()
        token, _ = grant(c.req("l", key, "0 1"))
        time.sleep(2.2)
        self.assertEqual(c.req("n", key, token), "error")

    def test_disconnect_while_waiting_passes_lock_on(self):
        key = unique()
        holder = self.conn()
        token, _ = grant(holder.req("l", key, "0"))
        leaver = Conn(*ADDR)
        leaver.send("l", key, "30")
        time.sleep(0.1)
        nextw = self.conn()
        nextw.send("l", key, "30")
        time.sleep(0.1)
        leaver.close()
        time.sleep(0.3)  # the server notices the close promptly
        self.assertEqual(holder.req("r", key, token), "ok")
        grant(nextw.reply(timeout=5))

    def test_disconnect_releases_holds(self):
        key = unique()
        a = Conn(*ADDR)
        grant(a.req("l", key, "0"))
        b = self.conn()
        b.send("l", key, "10")
        a.close()
        grant(b.reply(timeout=5))

    def test_fences_strictly_increase(self):
        c = self.conn()
        last = 0
        for i in range(20):
            key = unique()
            token, _ = grant(c.req("l", key, "0"))
            self.assertGreater(fence(token), last)
            last = fence(token)
            self.assertEqual(c.req("r", key, token), "ok")

    def test_bad_arguments(self):
        c = self.conn()
        key = unique()
        for arg in ["", "x", "-1", "1 0", "1 x", "1 2 3", "9223372037", "1 9223372037",
                    "99999999999999999999999"]:
            self.assertEqual(c.req("l", key, arg), "error", arg)
        self.assertEqual(c.req("l", "a b", "1"), "error")
        self.assertEqual(c.req("l", "", "1"), "error")
        self.assertEqual(c.req("ping"), "ok")


class TwoPhase(Base):
    def test_enqueue_acquired_then_wait(self):
        c = self.conn()
        key = unique()
        token, ttl = grant(c.req("e", key, "12"))
        self.assertEqual(ttl, 12)
        t2, _ = grant(c.req("w", key, "5"))
        self.assertEqual(t2, token)
        self.assertEqual(c.req("w", key, "1"), "error_not_enqueued")

    def test_queued_then_granted(self):
        a, b = self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0"))
        self.assertEqual(b.req("e", key, ""), "queued")
        self.assertEqual(b.req("e", key, ""), "error_already_enqueued")
        b.send("w", key, "10")
        time.sleep(0.1)
        self.assertEqual(a.req("r", key, token), "ok")
        grant(b.reply())

    def test_grant_before_wait(self):
        a, b = self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0"))
        self.assertEqual(b.req("e", key, "20"), "queued")
        self.assertEqual(a.req("r", key, token), "ok")
        time.sleep(0.2)
        t0 = time.monotonic()
        tok, ttl = grant(b.req("w", key, "10"))
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(ttl, 20)

    def test_wait_timeout_removes_waiter(self):
        a, b, c = self.conn(), self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0"))
        self.assertEqual(b.req("e", key, ""), "queued")
        self.assertEqual(b.req("w", key, "1"), "timeout")
        self.assertEqual(b.req("w", key, "1"), "error_not_enqueued")
        c.send("l", key, "10")
        time.sleep(0.1)
        self.assertEqual(a.req("r", key, token), "ok")
        grant(c.reply())

    def test_wait_without_enqueue(self):
        c = self.conn()
        self.assertEqual(c.req("w", unique(), "1"), "error_not_enqueued")
        self.assertEqual(c.req("sw", unique(), "1"), "error_not_enqueued")

    def test_lease_expired_before_wait(self):
        a, b = self.conn(), self.conn()
        key = unique()
        token, _ = grant(a.req("l", key, "0"))
        self.assertEqual(b.req("e", key, "1"), "queued")
        self.assertEqual(a.req("r", key, token), "ok")
        time.sleep(2.2)
        self.assertEqual(b.req("w", key, "5"), "error_lease_expired")

    def test_bad_arguments(self):
        c = self.conn()
        self.assertEqual(c.req("e", unique(), "x"), "error")
        self.assertEqual(c.req("e", unique(), "1 2"), "error")
        self.assertEqual(c.req("w", unique(), ""), "error")
        self.assertEqual(c.req("se", unique(), ""), "error")


class Semaphores(Base):
    def test_limit(self):
        key = unique()
        conns = [self.conn() for _ in range(4)]
        tokens = [grant(c.req("sl", key, "0 3"))[0] for c in conns[:3]]
        self.assertEqual(conns[3].req("sl", key, "0 3"), "timeout")
        conns[3].send("sl", key, "10 3")
        time.sleep(0.1)
        self.assertEqual(conns[0].req("sr", key, tokens[0]), "ok")
        grant(conns[3].reply())

    def test_limit_mismatch(self):
        c = self.conn()
        key = unique()
        grant(c.req("sl", key, "0 2"))
        self.assertEqual(c.req("sl", key, "0 3"), "error_limit_mismatch")
        self.assertEqual(c.req("se", key, "3"), "error_limit_mismatch")

    def test_renew_release_and_two_phase(self):
        c = self.conn()
        key = unique()
        token, ttl = grant(c.req("sl", key, "0 2 9"))
        self.assertEqual(ttl, 9)
        self.assertEqual(c.req("sn", key, token + " 30"), "ok 30")
        self.assertEqual(c.req("n", key, token), "error")
        self.assertEqual(c.req("sr", key, token), "ok")
        token, _ = grant(c.req("se", key, "2"))
        grant(c.req("sw", key, "1"))
        self.assertEqual(c.req("sr", key, token), "ok")

    def test_separate_namespace(self):
        c = self.conn()
        key = unique()
        grant(c.req("l", key, "0"))
        grant(c.req("sl", key, "0 1"))

    def test_bad_limits(self):
        c = self.conn()
        for arg in ["0 0", "0 1048577", "0 x", "0", "0 2 0"]:
            self.assertEqual(c.req("sl", unique(), arg), "error", arg)
        grant(c.req("sl", unique(), "0 1048576"))


class Signals(Base):
    def test_listen_signal_wildcards(self):
        sub, pub = self.conn(), self.conn()
        root = unique("ev").replace("-", "_")
        self.assertEqual(sub.req("listen", root + ".user.*", ""), "ok")
        self.assertEqual(sub.req("listen", root + ".>", ""), "ok")
        self.assertEqual(pub.req("signal", root + ".user.login", "alice"), "ok 1")
        self.assertEqual(sub.next_push(), (root + ".user.login", "alice"))
        self.assertEqual(pub.req("signal", root, "nobody"), "ok 0")
        self.assertEqual(pub.req("signal", root + ".order.created", "x"), "ok 1")
        self.assertEqual(sub.next_push(), (root + ".order.created", "x"))

    def test_payload_kept_verbatim(self):
        sub, pub = self.conn(), self.conn()
        ch = unique("ch")
        sub.req("listen", ch, "")
        self.assertEqual(pub.req("signal", ch, "  two  spaces  "), "ok 1")
        self.assertEqual(sub.next_push(), (ch, "  two  spaces  "))

    def test_64k_payload(self):
        sub, pub = self.conn(), self.conn()
        ch = "c%d" % (time.monotonic_ns() % 10**6)
        sub.req("listen", ch, "")
        payload = "p" * (65536 - len("sig  \n") - len(ch))
        self.assertEqual(pub.req("signal", ch, payload), "ok 1")
        self.assertEqual(sub.next_push(), (ch, payload))
        self.assertEqual(pub.req("signal", ch, payload + "p"), "error")
        self.assertEqual(pub.req("ping"), "ok")

    def test_queue_group_round_robin(self):
        ch = unique("jobs")
        members = [self.conn() for _ in range(3)]
        for m in members:
            self.assertEqual(m.req("listen", ch, "workers"), "ok")
        pub = self.conn()
        for i in range(6):
            self.assertEqual(pub.req("signal", ch, str(i)), "ok 1")
        got = [[m.next_push()[1] for _ in range(2)] for m in members]
        self.assertEqual(sorted(sum(got, [])), [str(i) for i in range(6)])
        for g in got:
            self.assertEqual(int(g[1]) - int(g[0]), 3)

    def test_unlisten_and_errors(self):
        c = self.conn()
        ch = unique("u")
        self.assertEqual(c.req("listen", ch, ""), "ok")
        self.assertEqual(c.req("listen", ch, ""), "ok")
        self.assertEqual(c.req("signal", ch, "me"), "ok 1")
        self.assertEqual(c.next_push(), (ch, "me"))
        self.assertEqual(c.req("unlisten", ch, ""), "ok")
        self.assertEqual(c.req("unlisten", ch, ""), "ok")
        self.assertEqual(c.req("signal", ch, "me"), "ok 0")
        for bad in ["fo*", "a>", "a.>.b"]:
            self.assertEqual(c.req("listen", bad, ""), "error", bad)
            self.assertEqual(c.req("unlisten", bad, ""), "error", bad)
        self.assertEqual(c.req("signal", "a.*", "x"), "error")
        self.assertEqual(c.req("signal", "a", ""), "error")
        self.assertEqual(c.req("signal", "a", "   "), "error")
        self.assertEqual(c.req("listen", "a", "g h"), "error")

    def test_push_during_blocking_wait(self):
        a, b, pub = self.conn(), self.conn(), self.conn()
        key, ch = unique(), unique("sig")
        token, _ = grant(a.req("l", key, "0"))
        b.req("listen", ch, "")
        b.send("l", key, "10")
        time.sleep(0.1)
        self.assertEqual(pub.req("signal", ch, "hello"), "ok 1")
        self.assertEqual(b.next_push(), (ch, "hello"))
        a.req("r", key, token)
        grant(b.reply())


class Stats(Base):
    def test_shape_and_key_order(self):
        c = self.conn()
        key, sem, ch = unique("s"), unique("sem"), unique("ch")
        grant(c.req("l", key, "0 30"))
        grant(c.req("sl", sem, "0 3"))
        c.req("listen", ch, "grp")
        line = c.req("stats")
        self.assertTrue(line.startswith("ok {"))
        body = line[3:]
        stats = json.loads(body)
        self.assertEqual(list(stats.keys()), ["connections", "locks", "semaphores", "idle_locks",
                                              "idle_semaphores", "signal_channels"])
        self.assertGreaterEqual(stats["connections"], 1)
        lock = [l for l in stats["locks"] if l["key"] == key][0]
        self.assertEqual(list(lock.keys()), ["key", "owner_conn_id", "lease_expires_in_s", "waiters"])
        self.assertGreater(lock["owner_conn_id"], 0)
        semaphore = [s for s in stats["semaphores"] if s["key"] == sem][0]
        self.assertEqual(semaphore, {"key": sem, "limit": 3, "holders": 1, "waiters": 0})
        chan = [s for s in stats["signal_channels"] if s["pattern"] == ch][0]
        self.assertEqual(chan, {"pattern": ch, "group": "grp", "listeners": 1})

    def test_idle_entries(self):
        c = self.conn()
        key = unique("idle")
        token, _ = grant(c.req("l", key, "0"))
        c.req("r", key, token)
        stats = json.loads(c.req("stats")[3:])
        self.assertIn(key, [i["key"] for i in stats["idle_locks"]])


class Concurrency(Base):
    def test_mutual_exclusion_under_contention(self):
        key = unique("mx")
        inside = []
        overlaps = []

        def worker():
            with Conn(*ADDR) as c:
                for _ in range(10):
                    token, _ = grant(c.req("l", key, "30"))
                    inside.append(1)
                    if len(inside) > 1:
                        overlaps.append(1)
                    time.sleep(0.002)
                    inside.pop()
                    assert c.req("r", key, token) == "ok"

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(overlaps, [])


def main():
    global ADDR
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default=os.environ.get("DFLOCKD_ADDR", "127.0.0.1:6388"))
    parser.add_argument("--spawn", metavar="BINARY",
                        help="start this dflockd binary on a free port and test it")
    args, rest = parser.parse_known_args()
    server = None
    if args.spawn:
        os.environ["DFLOCKD_BIN"] = args.spawn
        server = Server().start()
        ADDR = (server.host, server.port)
    else:
        host, port = args.addr.rsplit(":", 1)
        ADDR = (host, int(port))
    socket.create_connection(ADDR, timeout=5).close()
    try:
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    finally:
        problem = server.stop_cleanly() if server is not None else None
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(0 if program.result.wasSuccessful() and not problem else 1)


if __name__ == "__main__":
    main()
