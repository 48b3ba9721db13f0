"""wufei: a Python client for the wufei solid-waste exchange (wufeid).

    from wufei import Client, WufeiError

    with Client("tcp://127.0.0.1:5570", as_firm="91330600MA2D000001") as c:
        r = c.post_offer("SW07", 12000, -5000)
        print(r["id"], r["rest"], [m["demand"] for m in r["matches"]])

The wire protocol is docs/protocol.md; ``Client.call(op, **fields)`` reaches
every op, the typed methods name their fields. Needs python3-zmq and
python3-msgpack (Debian packages).
"""

from .client import (
    DEFAULT_ENDPOINT,
    DEFAULT_FEED,
    OPERATOR_ID,
    Client,
    Feed,
    WufeiError,
    WufeiTimeout,
    curve_keypair,
    read_key,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_FEED",
    "OPERATOR_ID",
    "Client",
    "Feed",
    "WufeiError",
    "WufeiTimeout",
    "curve_keypair",
    "read_key",
]

__version__ = "0.1.0"
