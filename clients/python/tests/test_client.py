"""Tests of the wufei Python client.

TestWire checks the exact request every typed method sends, against a fake
ROUTER in a thread (so ops the daemon does not implement yet are covered
too). TestInsecure and TestSecure run against a real wufeid (the binary
named by the environment variable WUFEID) started on a temporary database
and loopback ports chosen by the kernel: insecure mode with the `as` field,
and secure mode with CURVE, where the operator registers a fresh client key
and the client then acts as that firm. Each daemon is stopped with SIGTERM
and must exit 0. Run with python3 -m unittest (no pytest needed).
"""

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

from wufei import (OPERATOR_ID, Client, Feed, WufeiError, WufeiTimeout, curve_keypair,
                   read_key)

WUFEID = os.environ.get("WUFEID", "")
START_TIMEOUT = 20.0

_next_firm = [0]


def firm_id():
    """A fresh 18-character firm id (the check character is not verified)."""
    _next_firm[0] += 1
    return "91330600MA2D%06d" % _next_firm[0]


class Daemon:
    """A wufeid on a temporary database and kernel-chosen loopback ports."""

    def __init__(self, insecure, extra=()):
        if not WUFEID or not os.access(WUFEID, os.X_OK):
            raise unittest.SkipTest("WUFEID does not name the wufeid binary")
        self.dir = tempfile.mkdtemp(prefix="wufei-py-")
        self.db = os.path.join(self.dir, "db")
        self.log_path = os.path.join(self.dir, "wufeid.log")
        args = [WUFEID, "--db", self.db, "--command", "tcp://127.0.0.1:*",
                "--feed", "tcp://127.0.0.1:*", "--quiet"] + list(extra)
        if insecure:
            args.append("--insecure")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        self.endpoint = self._wait_ready()
        m = re.search(r"feed (\S+), journal", self._log_text())
        self.feed = m.group(1) if m else None

    def _log_text(self):
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                line = self.proc.stdout.readline()
                m = re.match(rb"wufeid \S+ ready on (\S+)", line)
                if m:
                    return m.group(1).decode()
                if not line:
                    break
        self.proc.kill()
        self.proc.wait()
        raise AssertionError("wufeid did not start (stdout %r); log:\n%s" % (line, self._log_text()))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        log = self._log_text()
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc != 0:
            raise AssertionError("wufeid exited %d; log:\n%s" % (rc, log))


def register(op, firm, roles, name=None, key=None, lat=30.08, lon=120.49, county=330603):
    return op.firm_put(firm, name or ("firm " + firm[-4:]), roles, lat, lon, county, key=key)


# ---------------------------------------------------------------------------
# The exact requests the typed methods send


class FakeServer(threading.Thread):
    """A ROUTER that records each request and answers ok with every reply
    field the typed methods read."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.requests = []
        self.stopping = False

    def run(self):
        while not self.stopping:
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            req = msgpack.unpackb(frames[-1], raw=False)
            self.requests.append(req)
            rep = {"rid": req["rid"], "ok": True, "seq": 7, "now": 1, "rest": 0, "id": "X1",
                   "order": {}, "orders": [], "token": "WF1.x.y", "manifest": {},
                   "key": b"k" * 32, "config": {}, "firm": {}, "auctions": []}
            if req["op"] == "fail":
                rep = {"rid": req["rid"], "ok": False, "err": "E_FIELD", "msg": "field \"x\" is bad"}
            self.sock.send_multipart(frames[:-1] + [msgpack.packb(rep, use_bin_type=True)])
            if req["op"] == "hello":  # a stream message after the hello reply
                self.sock.send_multipart(frames[:-1] + [msgpack.packb({"seq": 8, "type": "credit"})])
        self.sock.close()
        self.ctx.term()


class TestWire(unittest.TestCase):
    def setUp(self):
        self.srv = FakeServer()
        self.srv.start()
        self.c = Client(self.srv.endpoint, as_firm="91330600MA2D000001", timeout=5)

    def tearDown(self):
        self.c.close()
        self.srv.stopping = True
        self.srv.join(5)

    def last(self):
        r = dict(self.srv.requests[-1])
        self.assertIsInstance(r.pop("rid"), int)
        self.assertEqual(r.pop("as"), "91330600MA2D000001")
        return r

    def test_every_typed_method_sends_its_op_and_fields(self):
        c = self.c
        cases = [
            (lambda: c.ping(), {"op": "ping"}),
            (lambda: c.post_offer("SW07", 12000, -5000, lat=30, lon=120.5, max_km=80, min_credit=60,
                                  min_fill=1000, expires=99),
             {"op": "offer.post", "code": "SW07", "qty": 12000, "price": -5000, "lat": 30.0,
              "lon": 120.5, "max_km": 80.0, "min_credit": 60, "min_fill": 1000, "expires": 99}),
            (lambda: c.post_offer("SW07", 1, 2), {"op": "offer.post", "code": "SW07", "qty": 1, "price": 2}),
            (lambda: c.post_demand("SW0*", 5, -3, target="O4"),
             {"op": "demand.post", "codes": ["SW0*"], "qty": 5, "price": -3, "target": "O4"}),
            (lambda: c.cancel("O1"), {"op": "order.cancel", "id": "O1"}),
            (lambda: c.order("D2"), {"op": "order.get", "id": "D2"}),
            (lambda: c.my_orders(), {"op": "orders.mine"}),
            (lambda: c.my_orders(live_only=False), {"op": "orders.mine", "live_only": False}),
            (lambda: c.sub_put("offers", ["HW08"], radius_km=30, min_qty=100),
             {"op": "sub.put", "side": "offers", "codes": ["HW08"], "radius_km": 30.0, "min_qty": 100}),
            (lambda: c.sub_del("S1"), {"op": "sub.del", "id": "S1"}),
            (lambda: c.manifest_dispatch("F1", "91330600MA2D000003", "浙D12345"),
             {"op": "manifest.dispatch", "id": "F1", "carrier": "91330600MA2D000003",
              "vehicle": "浙D12345"}),
            (lambda: c.manifest_load("F1", 900), {"op": "manifest.load", "id": "F1", "qty": 900}),
            (lambda: c.manifest_unload("F1", 880), {"op": "manifest.unload", "id": "F1", "qty": 880}),
            (lambda: c.manifest_close("F1"), {"op": "manifest.close", "id": "F1"}),
            (lambda: c.manifest_cancel("F1", "truck broke"),
             {"op": "manifest.cancel", "id": "F1", "reason": "truck broke"}),
            (lambda: c.manifest_get("F1"), {"op": "manifest.get", "id": "F1"}),
            (lambda: c.engine_key(), {"op": "engine.key"}),
            (lambda: c.firm_put("91330600MA2D000009", "x", "producer", 30, 120, 330603, key="k" * 40,
                                base_credit=85),
             {"op": "firm.put", "firm": "91330600MA2D000009", "name": "x", "roles": ["producer"],
              "lat": 30.0, "lon": 120.0, "county": 330603, "key": "k" * 40, "base_credit": 85}),
            (lambda: c.firm_get("91330600MA2D000009"), {"op": "firm.get", "firm": "91330600MA2D000009"}),
            (lambda: c.licence_put("91330600MA2D000009", "HW08", 10 ** 9, 2 ** 41),
             {"op": "licence.put", "firm": "91330600MA2D000009", "codes": ["HW08"],
              "capacity": 10 ** 9, "valid_until": 2 ** 41}),
            (lambda: c.lane_put("A" * 18, "B" * 18, "HW08"),
             {"op": "lane.put", "producer": "A" * 18, "consumer": "B" * 18, "code": "HW08"}),
            (lambda: c.lane_del("A" * 18, "B" * 18, "HW08"),
             {"op": "lane.del", "producer": "A" * 18, "consumer": "B" * 18, "code": "HW08"}),
            (lambda: c.credit_event("A" * 18, "inspection", -10, "late manifest"),
             {"op": "credit.event", "firm": "A" * 18, "kind": "inspection", "points": -10,
              "note": "late manifest"}),
            (lambda: c.firm_block("A" * 18, "fraud"), {"op": "firm.block", "firm": "A" * 18, "note": "fraud"}),
            (lambda: c.firm_unblock("A" * 18, "ok"), {"op": "firm.unblock", "firm": "A" * 18, "note": "ok"}),
            (lambda: c.config_get(), {"op": "config.get"}),
            (lambda: c.config_set(w_credit=0.5, county_rule=True),
             {"op": "config.set", "w_credit": 0.5, "county_rule": True}),
            (lambda: c.stats(), {"op": "stats"}),
            (lambda: c.journal_head(), {"op": "journal.head"}),
            (lambda: c.config_get(history=True), {"op": "config.get", "history": True}),
            (lambda: c.optimize(), {"op": "optimize"}),
            (lambda: c.optimize(goal="tonne_km", codes="HW08", apply=True),
             {"op": "optimize", "goal": "tonne_km", "codes": ["HW08"], "apply": True}),
            (lambda: c.auction_set("SW07", 60000, goal="tonne_km"),
             {"op": "auction.set", "code": "SW07", "period_ms": 60000, "goal": "tonne_km"}),
            (lambda: c.auction_del("SW07"), {"op": "auction.del", "code": "SW07"}),
            (lambda: c.call("anything.new", a=1, b=None), {"op": "anything.new", "a": 1}),
        ]
        for fn, want in cases:
            with self.subTest(op=want["op"]):
                fn()
                self.assertEqual(self.last(), want)

    def test_rids_grow_and_errors_raise(self):
        self.c.ping()
        self.c.ping()
        rids = [r["rid"] for r in self.srv.requests]
        self.assertEqual(rids, sorted(set(rids)))
        with self.assertRaises(WufeiError) as cm:
            self.c.call("fail")
        self.assertEqual(cm.exception.err, "E_FIELD")
        self.assertEqual(cm.exception.msg, 'field "x" is bad')
        self.assertFalse(self.c.request("fail")["ok"])

    def test_stream_message_after_hello_is_queued(self):
        self.assertEqual(self.c.hello(after_seq=3), 7)
        self.assertEqual(self.last(), {"op": "hello", "after_seq": 3})
        msgs = list(self.c.stream(timeout=1))
        self.assertEqual(msgs, [{"seq": 8, "type": "credit"}])

    def test_timeout(self):
        c = Client("tcp://127.0.0.1:1", timeout=0.2)  # nobody listens there
        try:
            t0 = time.monotonic()
            with self.assertRaises(WufeiTimeout):
                c.ping()
            self.assertLess(time.monotonic() - t0, 2)
        finally:
            c.close()


# ---------------------------------------------------------------------------
# Against a real wufeid, insecure mode


class TestInsecure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(insecure=True)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def client(self, firm=None):
        c = Client(self.d.endpoint, as_firm=firm, timeout=5)
        self.addCleanup(c.close)
        return c

    def firms(self):
        """A fresh producer and consumer, registered by the operator."""
        op = self.client(OPERATOR_ID)
        p, c = firm_id(), firm_id()
        f = register(op, p, ["producer"], name="柯桥印染厂")
        self.assertEqual(f["id"], p)
        register(op, c, ["consumer"], lat=30.03, lon=120.87, county=330604)
        return p, c

    def test_ping_and_error_replies(self):
        c = self.client()
        now = c.ping()
        self.assertLess(abs(now - time.time() * 1000), 60000)
        with self.assertRaises(WufeiError) as cm:
            c.call("no.such.op")
        self.assertEqual(cm.exception.err, "E_OP")
        self.assertIn("no.such.op", cm.exception.msg)
        op = self.client(OPERATOR_ID)
        with self.assertRaises(WufeiError) as cm:
            op.firm_get("91330699MA2D999999")
        self.assertEqual(cm.exception.err, "E_NOTFOUND")
        with self.assertRaises(WufeiError) as cm:
            op.call("order.get")
        self.assertEqual(cm.exception.err, "E_FIELD")
        self.assertIn('"id"', cm.exception.msg)
        p, _ = self.firms()
        with self.assertRaises(WufeiError) as cm:
            register(self.client(p), firm_id(), ["producer"])
        self.assertEqual(cm.exception.err, "E_AUTH")

    def test_offer_demand_match_get_list_cancel(self):
        p, c = self.firms()
        prod, cons = self.client(p), self.client(c)
        d = cons.post_demand(["SW07"], 20000, -3000)
        self.assertTrue(d["id"].startswith("D"))
        self.assertEqual(d["rest"], 20000)
        self.assertEqual(d["matches"], [])
        o = prod.post_offer("SW07", 12000, -5000)
        self.assertEqual(o["rest"], 0)
        self.assertEqual(len(o["matches"]), 1)
        m = o["matches"][0]
        self.assertEqual((m["offer"], m["demand"], m["code"], m["qty"], m["price"]),
                         (o["id"], d["id"], "SW07", 12000, -3000))
        self.assertGreater(m["km"], 30)
        order = cons.order(d["id"])
        self.assertEqual((order["state"], order["remaining"], order["codes"]), ("live", 8000, ["SW07"]))
        self.assertEqual([x["id"] for x in cons.my_orders()], [d["id"]])
        self.assertEqual(prod.my_orders(), [])
        self.assertEqual([x["state"] for x in prod.my_orders(live_only=False)], ["filled"])
        with self.assertRaises(WufeiError) as cm:
            prod.order(d["id"])
        self.assertEqual(cm.exception.err, "E_AUTH")
        self.assertEqual(cons.cancel(d["id"]), 8000)
        self.assertEqual(cons.order(d["id"])["state"], "cancelled")
        self.assertEqual(cons.my_orders(), [])

    def test_targeted_demand_takes_that_offer(self):
        p, c = self.firms()
        prod, cons = self.client(p), self.client(c)
        o1 = prod.post_offer("SW07", 1000, 100, max_km=100)
        o2 = prod.post_offer("SW07", 1000, 100, max_km=100)
        d = cons.post_demand("SW07", 1000, 200, max_km=100, target=o2["id"])
        self.assertEqual([m["offer"] for m in d["matches"]], [o2["id"]])
        self.assertEqual(cons.order(d["id"])["target"], o2["id"])
        self.assertEqual(prod.order(o1["id"])["remaining"], 1000)

    def test_stream_delivers_and_replays_matches(self):
        p, c = self.firms()
        watcher = self.client(p)
        seq0 = watcher.hello()
        o = self.client(p).post_offer("SW07", 5000, -5000)
        self.client(c).post_demand(["SW07"], 2000, -3000)
        self.client(c).post_demand(["SW07"], 1000, -3000)
        got = []
        for msg in watcher.stream(timeout=3):
            got.append(msg)
            if len(got) == 2:
                break
        self.assertEqual([m["type"] for m in got], ["match", "match"])
        self.assertEqual([m["seq"] for m in got], [seq0 + 1, seq0 + 2])
        self.assertEqual((got[0]["side"], got[0]["counterparty"], got[0]["offer"], got[0]["qty"]),
                         ("offer", c, o["id"], 2000))
        # A second connection replays from seq0: the same two messages, then silence.
        again = self.client(p)
        replay = list(again.stream(after_seq=seq0, timeout=1))
        self.assertEqual([m["seq"] for m in replay], [seq0 + 1, seq0 + 2])
        self.assertEqual(replay[1]["qty"], 1000)

    def test_call_auction_and_optimize(self):
        op = self.client(OPERATOR_ID)
        p, c = self.firms()
        auctions = op.auction_set("SW05", 3600000, goal="tonne_km")
        self.assertEqual([(a["code"], a["period_ms"], a["goal"]) for a in auctions],
                         [("SW05", 3600000, "tonne_km")])
        try:
            # Under the auction the two cross but do not match: both rest.
            o = self.client(p).post_offer("SW05", 4000, -5000)
            d = self.client(c).post_demand(["SW05"], 3000, -3000)
            self.assertEqual((o["matches"], o["rest"], d["matches"], d["rest"]), ([], 4000, [], 3000))
            plan = op.optimize(goal="tonne_km", codes="SW05")
            self.assertFalse(plan["applied"])
            self.assertEqual(plan["goal"], "tonne_km")
            self.assertEqual([(x["offer"], x["demand"], x["qty"], x["match"]) for x in plan["pairs"]],
                             [(o["id"], d["id"], 3000, None)])
            self.assertEqual(plan["qty"], 3000)
            self.assertAlmostEqual(plan["tonne_km"], 3.0 * plan["pairs"][0]["km"], places=6)
            self.assertEqual(self.client(c).order(d["id"])["remaining"], 3000, "read-only")
            done = op.optimize(goal="tonne_km", codes=["SW05"], apply=True)
            self.assertTrue(done["applied"])
            self.assertTrue(done["pairs"][0]["match"].startswith("M"))
            self.assertEqual(self.client(c).order(d["id"])["state"], "filled")
            with self.assertRaises(WufeiError) as cm:
                self.client(p).optimize()
            self.assertEqual(cm.exception.err, "E_AUTH")
        finally:
            self.assertEqual(op.auction_del("SW05"), [])

    def test_config_history(self):
        op = self.client(OPERATOR_ID)
        op.config_set(eco_fee=123)
        op.config_set(eco_fee=0)
        r = op.config_get(history=True)
        self.assertIn("config", r)
        self.assertGreaterEqual(len(r["history"]), 2)
        self.assertIn("history_truncated", r)

    def test_config_and_feed(self):
        op = self.client(OPERATOR_ID)
        cfg = op.config_set(w_credit=0.5, w_distance=0.3, w_price=0.2)
        self.assertAlmostEqual(cfg["w_credit"], 0.5)
        self.assertAlmostEqual(op.config_get()["w_distance"], 0.3)
        op.config_set(w_credit=0.4, w_distance=0.4, w_price=0.2)
        self.assertIsNotNone(self.d.feed, "the log names the feed endpoint")
        p, c = self.firms()
        with Feed(self.d.feed, topics=["match."]) as feed:
            time.sleep(0.3)  # a SUB socket misses what is sent before it has joined
            self.client(p).post_offer("SW07", 700, -5000)
            self.client(c).post_demand(["SW07"], 700, -3000)
            msgs = list(feed.messages(timeout=2))
        self.assertEqual(len(msgs), 1)
        topic, body = msgs[0]
        self.assertEqual(topic, "match.SW07")
        self.assertEqual((body["qty"], body["from_county"], body["to_county"]), (700, 330603, 330604))
        self.assertNotIn("offer", body)


# ---------------------------------------------------------------------------
# Against a real wufeid, secure mode (CURVE)


class TestSecure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(insecure=False)
        cls.server_key = read_key(os.path.join(cls.d.db, "server.pub"))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def operator(self):
        c = Client.from_key_files(self.d.endpoint, os.path.join(self.d.db, "server.pub"),
                                  os.path.join(self.d.db, "operator.key"), timeout=5)
        self.addCleanup(c.close)
        return c

    def test_key_files(self):
        self.assertEqual(os.stat(os.path.join(self.d.db, "operator.key")).st_mode & 0o777, 0o600)
        self.assertEqual(read_key(os.path.join(self.d.db, "operator.pub")),
                         zmq.curve_public(read_key(os.path.join(self.d.db, "operator.key")).encode()).decode())

    def test_registered_key_acts_as_its_firm(self):
        op = self.operator()
        self.assertGreater(op.ping(), 0)
        pub, sec = curve_keypair()
        p, c = firm_id(), firm_id()
        f = register(op, p, ["producer"], key=pub)
        self.assertEqual(f["key"], pub)
        register(op, c, ["consumer"], lat=30.03, lon=120.87, county=330604)
        # the firm connects with its key pair; `as` is ignored in secure mode
        firm = Client(self.d.endpoint, server_key=self.server_key, public_key=pub, secret_key=sec,
                      as_firm=c, timeout=5)
        self.addCleanup(firm.close)
        seq = firm.hello()
        o = firm.post_offer("SW07", 3000, -5000)
        self.assertEqual(o["rest"], 3000)
        mine = firm.my_orders()
        self.assertEqual([(x["id"], x["firm"]) for x in mine], [(o["id"], p)])
        with self.assertRaises(WufeiError) as cm:
            op.call("config.set")
        self.assertEqual(cm.exception.err, "E_FIELD")
        # the operator acts as the operator firm: it may read any order
        self.assertEqual(op.order(o["id"])["firm"], p)
        # a consumer registered without a key cannot be reached in secure mode,
        # but the producer's own stream gets its match once a consumer with a key takes it
        cpub, csec = curve_keypair()
        register(op, c, ["consumer"], lat=30.03, lon=120.87, county=330604, key=cpub)
        cons = Client(self.d.endpoint, server_key=self.server_key, secret_key=csec, timeout=5)
        self.addCleanup(cons.close)
        # the feed is CURVE too: any client key may subscribe, given the server's key
        feed = Feed(self.d.feed, topics=["match."], server_key=self.server_key)
        self.addCleanup(feed.close)
        time.sleep(0.3)  # a SUB socket misses what is sent before it has joined
        d = cons.post_demand(["SW07"], 3000, -3000)
        self.assertEqual([m["offer"] for m in d["matches"]], [o["id"]])
        self.assertEqual([(t, b["qty"]) for t, b in feed.messages(timeout=1)], [("match.SW07", 3000)])
        msgs = list(firm.stream(timeout=1.5))
        self.assertEqual([(m["seq"], m["type"], m["counterparty"]) for m in msgs], [(seq + 1, "match", c)])

    def test_unknown_key_is_never_answered(self):
        stranger = Client(self.d.endpoint, server_key=self.server_key, timeout=0.5)
        self.addCleanup(stranger.close)
        with self.assertRaises(WufeiTimeout):
            stranger.ping()

    def test_insecure_client_gets_no_answer(self):
        plain = Client(self.d.endpoint, as_firm=OPERATOR_ID, timeout=0.5)
        self.addCleanup(plain.close)
        with self.assertRaises(WufeiTimeout):
            plain.ping()


if __name__ == "__main__":
    unittest.main()
