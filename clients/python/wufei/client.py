"""The wufei Python client: one DEALER connection to wufeid's command socket.

Every request goes through :meth:`Client.call`, which packs ``op``, a fresh
``rid``, the ``as`` field (insecure mode) and the op's fields as one msgpack
map, waits for the reply carrying that ``rid`` and returns it as a dict, or
raises :class:`WufeiError` when the reply says ``ok: false``. The typed
methods (``post_offer``, ``firm_put``, ...) are thin wrappers that name the
fields of docs/protocol.md. Private-stream messages that arrive while a
reply is awaited are queued and handed out by :meth:`Client.next_message`
and :meth:`Client.stream`, in the order they came.

Depends on Debian's python3-zmq and python3-msgpack only, and on nothing of
the server but the wire protocol.
"""

import collections
import itertools
import time

import msgpack
import zmq

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5570"
DEFAULT_FEED = "tcp://127.0.0.1:5571"
OPERATOR_ID = "000000000000000000"

# A bound on queued stream messages, so a client that never reads its
# stream cannot grow without limit; the oldest are dropped (the server keeps
# them: say hello with after_seq to replay).
MAX_QUEUED = 100000


class WufeiError(Exception):
    """The server refused a request.

    ``err`` is the protocol's error code (``E_FIELD``, ``E_AUTH``,
    ``E_NOTFOUND``, ...), ``msg`` the server's sentence naming the cause,
    ``reply`` the whole reply map.
    """

    def __init__(self, err, msg, reply=None):
        super().__init__("%s: %s" % (err, msg))
        self.err = err
        self.msg = msg
        self.reply = reply or {}


class WufeiTimeout(TimeoutError):
    """No reply came within the client's timeout.

    In secure mode this is also what an unregistered key sees: the server
    refuses the CURVE handshake, so the request is never answered.
    """


def read_key(path):
    """Returns the z85 key (40 characters) stored in a key file such as
    ``server.pub`` or ``operator.key`` (written by wufeid beside its
    database)."""
    with open(path, "r", encoding="ascii") as f:
        key = f.read().strip()
    if len(key) != 40:
        raise ValueError("%s does not hold a 40-character z85 key" % path)
    return key


def curve_keypair():
    """A fresh CURVE key pair ``(public, secret)`` as z85 strings, ready for
    ``firm_put(key=public)`` and ``Client(public_key=..., secret_key=...)``."""
    pub, sec = zmq.curve_keypair()
    return pub.decode("ascii"), sec.decode("ascii")


def _z85(key):
    if isinstance(key, str):
        key = key.encode("ascii")
    if len(key) != 40:
        raise ValueError("a CURVE key in z85 has 40 characters, not %d" % len(key))
    return key


class Client:
    """A connection to wufeid's command socket.

    Insecure mode (a daemon started with ``--insecure``)::

        c = Client("tcp://127.0.0.1:5570", as_firm="91330600MA2D000001")

    Secure mode (the default): give the server's public key (``server.pub``
    beside its database) and this firm's registered key pair, all z85::

        c = Client(endpoint, server_key=read_key("/var/lib/wufei/server.pub"),
                   public_key=pub, secret_key=sec)

    ``public_key`` may be omitted: it is derived from ``secret_key``. The
    connection is made lazily by ZeroMQ; a request that gets no answer
    within ``timeout`` seconds raises :class:`WufeiTimeout`. Use it as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, endpoint=DEFAULT_ENDPOINT, as_firm=None, server_key=None,
                 public_key=None, secret_key=None, timeout=5.0, context=None):
        self.endpoint = endpoint
        self.as_firm = as_firm
        self.timeout = timeout
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        if server_key is not None:
            if secret_key is None:
                public_key, secret_key = curve_keypair()
            elif public_key is None:
                public_key = zmq.curve_public(_z85(secret_key))
            self._sock.curve_serverkey = _z85(server_key)
            self._sock.curve_publickey = _z85(public_key)
            self._sock.curve_secretkey = _z85(secret_key)
        elif public_key is not None or secret_key is not None:
            raise ValueError("a client key pair needs the server's key (server_key)")
        self._rids = itertools.count(1)
        self._queue = collections.deque()
        self._sock.connect(endpoint)

    @classmethod
    def from_key_files(cls, endpoint, server_pub, secret_key_file, **kw):
        """A secure client from key files: ``server_pub`` (the server's
        ``server.pub``) and ``secret_key_file`` (a z85 secret key, e.g. the
        operator's ``operator.key``)."""
        return cls(endpoint, server_key=read_key(server_pub),
                   secret_key=read_key(secret_key_file), **kw)

    # -- lifecycle -------------------------------------------------------

    def close(self):
        """Closes the socket (and the context when the client made it)."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        if self._own_ctx and self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the core --------------------------------------------------------

    def request(self, op, fields=None, timeout=None):
        """Sends one request and returns its reply map as it came, ``ok``
        true or false. ``fields`` is a dict of the op's fields; ``None``
        values are left out (the protocol treats nil as absent). Raises
        :class:`WufeiTimeout` when no reply came in time."""
        rid = next(self._rids)
        body = {"op": op, "rid": rid}
        if self.as_firm:
            body["as"] = self.as_firm
        for k, v in (fields or {}).items():
            if v is not None:
                body[k] = v
        self._sock.send(msgpack.packb(body, use_bin_type=True))
        return self._await(rid, self.timeout if timeout is None else timeout)

    def call(self, op, **fields):
        """Sends ``op`` with ``fields`` and returns the reply map (with
        ``rid`` and ``ok``) when ``ok`` is true; raises :class:`WufeiError`
        with the reply's ``err`` and ``msg`` otherwise. Any op of the
        protocol, present or future, can be called this way::

            c.call("order.get", id="O12")["order"]["remaining"]
        """
        reply = self.request(op, fields)
        if not reply.get("ok"):
            raise WufeiError(reply.get("err", "E_INTERNAL"), reply.get("msg", ""), reply)
        return reply

    def _recv(self, timeout):
        """One decoded message, or None when none came within timeout
        seconds (None: wait forever)."""
        ms = None if timeout is None else max(0, int(timeout * 1000))
        if not self._sock.poll(ms, zmq.POLLIN):
            return None
        frames = self._sock.recv_multipart()
        try:
            return msgpack.unpackb(frames[-1], raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as e:
            raise WufeiError("E_PARSE", "the server sent a frame that is not msgpack: %s" % e)

    def _enqueue(self, msg):
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
        self._queue.append(msg)

    def _await(self, rid, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            msg = self._recv(max(0.0, left))
            if msg is None:
                raise WufeiTimeout("no reply to rid %d within %.3g s from %s"
                                   % (rid, timeout, self.endpoint))
            if not isinstance(msg, dict):
                continue
            if "rid" in msg:
                if msg["rid"] == rid:
                    return msg
                continue  # a late reply to a request that timed out
            self._enqueue(msg)

    # -- the private stream ----------------------------------------------

    def hello(self, after_seq=None):
        """Binds this firm's private stream to this connection and returns
        the firm's latest stream ``seq``. With ``after_seq`` the server
        replays the messages after it (at most 10000 per hello)."""
        return self.call("hello", after_seq=after_seq)["seq"]

    def next_message(self, timeout=None):
        """The next private-stream message (a dict with ``seq``, ``type``
        and its fields), waiting up to ``timeout`` seconds (None: forever).
        Returns None on timeout. Late replies are dropped."""
        if self._queue:
            return self._queue.popleft()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            msg = self._recv(left)
            if msg is None:
                return None
            if isinstance(msg, dict) and "rid" not in msg:
                return msg

    def stream(self, after_seq=None, timeout=None):
        """Iterates over the private stream::

            for msg in client.stream(after_seq=last, timeout=5):
                handle(msg); last = msg["seq"]

        With ``after_seq`` it first says ``hello`` (binding the stream here
        and replaying what came after that seq); without it, the caller is
        expected to have said hello already. The iteration ends when no
        message comes for ``timeout`` seconds (None: never ends).
        """
        if after_seq is not None:
            self.hello(after_seq)
        while True:
            msg = self.next_message(timeout)
            if msg is None:
                return
            yield msg

    # -- trading ops -----------------------------------------------------

    def ping(self):
        """The server's clock, unix milliseconds."""
        return self.call("ping")["now"]

    def post_offer(self, code, qty, price, lat=None, lon=None, max_km=None,
                   min_credit=None, min_fill=None, expires=None):
        """``offer.post`` (producer): ``qty`` in the code's unit, ``price``
        in fen per tonne (negative: the producer pays). Returns the reply:
        ``id``, ``matches``, ``rest``."""
        return self.call("offer.post", code=code, qty=qty, price=price, lat=_num(lat),
                         lon=_num(lon), max_km=_num(max_km), min_credit=min_credit,
                         min_fill=min_fill, expires=expires)

    def post_demand(self, codes, qty, price, lat=None, lon=None, max_km=None,
                    min_credit=None, min_fill=None, expires=None, target=None):
        """``demand.post`` (consumer): ``codes`` a list of code patterns (a
        single string is taken as a one-element list); ``target`` an offer
        id to take that offer only. Returns ``id``, ``matches``, ``rest``."""
        if isinstance(codes, str):
            codes = [codes]
        return self.call("demand.post", codes=list(codes), qty=qty, price=price,
                         lat=_num(lat), lon=_num(lon), max_km=_num(max_km),
                         min_credit=min_credit, min_fill=min_fill, expires=expires,
                         target=target)

    def cancel(self, id):
        """``order.cancel``: returns the quantity that was still resting."""
        return self.call("order.cancel", id=id)["rest"]

    def order(self, id):
        """``order.get``: the order map (owner or operator only)."""
        return self.call("order.get", id=id)["order"]

    def my_orders(self, live_only=None):
        """``orders.mine``: this firm's orders (live ones unless
        ``live_only=False``)."""
        return self.call("orders.mine", live_only=live_only)["orders"]

    def sub_put(self, side, codes, lat=None, lon=None, radius_km=None, min_qty=None,
                min_credit=None):
        """``sub.put``: subscribe to resting ``offers`` or ``demands`` of
        ``codes``; returns the subscription id."""
        if isinstance(codes, str):
            codes = [codes]
        return self.call("sub.put", side=side, codes=list(codes), lat=_num(lat),
                         lon=_num(lon), radius_km=_num(radius_km), min_qty=min_qty,
                         min_credit=min_credit)["id"]

    def sub_del(self, id):
        """``sub.del``: removes a subscription."""
        return self.call("sub.del", id=id)

    def manifest_dispatch(self, id, carrier, vehicle):
        """``manifest.dispatch`` (carrier or producer): returns the token."""
        return self.call("manifest.dispatch", id=id, carrier=carrier, vehicle=vehicle)["token"]

    def manifest_load(self, id, qty):
        """``manifest.load`` (producer): returns the token."""
        return self.call("manifest.load", id=id, qty=qty)["token"]

    def manifest_unload(self, id, qty):
        """``manifest.unload`` (consumer, weighed ``qty``): returns the reply
        with ``token`` and ``discrepancy``."""
        return self.call("manifest.unload", id=id, qty=qty)

    def manifest_close(self, id):
        """``manifest.close`` (consumer): returns the token."""
        return self.call("manifest.close", id=id)["token"]

    def manifest_cancel(self, id, reason):
        """``manifest.cancel`` (either party, before load)."""
        return self.call("manifest.cancel", id=id, reason=reason)

    def manifest_get(self, id):
        """``manifest.get``: the manifest map."""
        return self.call("manifest.get", id=id)["manifest"]

    def engine_key(self):
        """``engine.key``: the engine's Ed25519 public key (32 bytes)."""
        return self.call("engine.key")["key"]

    # -- operator ops ----------------------------------------------------

    def firm_put(self, firm, name, roles, lat, lon, county, key=None, base_credit=None):
        """``firm.put``: registers (or updates) a firm. ``roles`` a list of
        ``producer``, ``consumer``, ``carrier``, ``operator``; ``key`` the
        firm's CURVE public key (z85) in secure mode. Returns the firm map."""
        if isinstance(roles, str):
            roles = [roles]
        return self.call("firm.put", firm=firm, name=name, roles=list(roles), lat=float(lat),
                         lon=float(lon), county=county, key=key,
                         base_credit=base_credit).get("firm")

    def firm_get(self, firm):
        """``firm.get``: the firm map with its score and tier."""
        return self.call("firm.get", firm=firm)["firm"]

    def licence_put(self, firm, codes, capacity, valid_until):
        """``licence.put``: a hazardous-waste licence (``capacity`` kg per
        calendar year, ``valid_until`` unix ms)."""
        if isinstance(codes, str):
            codes = [codes]
        return self.call("licence.put", firm=firm, codes=list(codes), capacity=capacity,
                         valid_until=valid_until)

    def lane_put(self, producer, consumer, code):
        """``lane.put``: an approved producer → consumer lane for a code."""
        return self.call("lane.put", producer=producer, consumer=consumer, code=code)

    def lane_del(self, producer, consumer, code):
        """``lane.del``: removes a lane."""
        return self.call("lane.del", producer=producer, consumer=consumer, code=code)

    def credit_event(self, firm, kind, points, note, expires=None):
        """``credit.event``: returns the reply with the new ``score`` and
        ``tier``."""
        return self.call("credit.event", firm=firm, kind=kind, points=points, note=note,
                         expires=expires)

    def firm_block(self, firm, note):
        """``firm.block``: blacklists a firm."""
        return self.call("firm.block", firm=firm, note=note)

    def firm_unblock(self, firm, note):
        """``firm.unblock``: lifts a block."""
        return self.call("firm.unblock", firm=firm, note=note)

    def config_get(self, history=False):
        """``config.get``: the config map (weights, tiers, delays, rules).
        With ``history=True`` the whole reply instead, whose ``history``
        lists the journaled setting changes, newest first."""
        if history:
            return self.call("config.get", history=True)
        return self.call("config.get")["config"]

    def config_set(self, **settings):
        """``config.set``: changes the given settings (``w_credit=0.5``,
        ``county_rule=True``, ...); returns the config map after the
        change."""
        return self.call("config.set", **settings)["config"]

    def stats(self):
        """``stats``: the engine's counters (the reply map)."""
        return self.call("stats")

    def journal_head(self):
        """``journal.head``: the reply with ``seq``, ``hash`` and ``sig``."""
        return self.call("journal.head")

    def optimize(self, goal=None, codes=None, apply=None):
        """``optimize``: the optimal plan for the resting book. ``goal``
        ``score`` (default) or ``tonne_km``; ``codes`` limits it to orders
        of these codes or categories; ``apply=True`` writes the plan as
        matches. Returns the reply: ``pairs``, ``qty``, ``tonne_km``,
        ``co2_kg``, ``continuous``, ``gap_pct``, ``bounded``, ..."""
        if isinstance(codes, str):
            codes = [codes]
        return self.call("optimize", goal=goal, codes=None if codes is None else list(codes),
                         apply=apply)

    def auction_set(self, code, period_ms, goal=None):
        """``auction.set``: switches a code or category to a call auction
        cleared every ``period_ms``; returns the list of auctions."""
        return self.call("auction.set", code=code, period_ms=period_ms, goal=goal)["auctions"]

    def auction_del(self, code):
        """``auction.del``: returns the code to continuous matching; returns
        the list of auctions left."""
        return self.call("auction.del", code=code)["auctions"]


def _num(x):
    """Floats for the protocol's float fields (an int is accepted too, but
    a float says what is meant)."""
    return None if x is None else float(x)


class Feed:
    """A subscriber to wufeid's public feed (PUB): ``match.<code>`` and
    ``book.<code>`` topics. ``topics`` are prefixes (``"match."`` for every
    match). Secure mode needs the server's key; any client key may
    subscribe. Iterate with :meth:`messages`."""

    def __init__(self, endpoint=DEFAULT_FEED, topics=("",), server_key=None, context=None):
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        if server_key is not None:
            pub, sec = curve_keypair()
            self._sock.curve_serverkey = _z85(server_key)
            self._sock.curve_publickey = _z85(pub)
            self._sock.curve_secretkey = _z85(sec)
        for t in topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode("utf-8"))
        self._sock.connect(endpoint)

    def messages(self, timeout=None):
        """Yields ``(topic, body)`` pairs until none comes for ``timeout``
        seconds (None: forever)."""
        ms = None if timeout is None else int(timeout * 1000)
        while self._sock.poll(ms, zmq.POLLIN):
            frames = self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            yield frames[0].decode("utf-8"), msgpack.unpackb(frames[1], raw=False)

    def close(self):
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        if self._own_ctx and self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
