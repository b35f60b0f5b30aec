"""ResyncingInput under pygls' own reader loop: after any broken frame, the next message arrives.

These run pygls' synchronous loop (``pygls.io_.run``, the same framing code as the async one
``tether lsp`` uses) over an in-memory stream, so each case is exact and instant; the end-to-end
version is in test_lsp_burst.py.
"""

from __future__ import annotations

import io
import json
import threading

import pytest
from pygls.io_ import run

from tether.lsp.framing import ResyncingInput


class Collector:
    """The two protocol methods pygls' loop calls."""

    def __init__(self) -> None:
        self.received: list = []

    def structure_message(self, data):
        return data

    def handle_message(self, message) -> None:
        if not isinstance(message, dict):
            raise TypeError("not a message")
        self.received.append(message.get("id"))


def frame(payload: dict | bytes, length: int | None = None) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def received(data: bytes, stream_class=io.BytesIO) -> list:
    collector = Collector()
    run(threading.Event(), ResyncingInput(stream_class(data)), collector)
    return collector.received


GOOD = frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})
AFTER = frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
BROKEN = {
    "length not a number": b"Content-Length: abc\r\n\r\n" + b'{"jsonrpc": "2.0", "method": "x"}',
    "no header": b'{"jsonrpc": "2.0", "method": "x"}',
    "body shorter than its length": frame(b'{"jsonrpc": "2.0", "met', 5000),
    "body one byte short": frame(b'{"jsonrpc": "2.0", "method": "x"}', 34),
    "body longer than its length": frame(b'{"jsonrpc": "2.0", "method": "x", "params": {}}', 20),
    "not JSON": frame(b"{this is not json"),
    "not UTF-8": frame(b'{"jsonrpc": "\xff"}'),
    "empty body": frame(b""),
    "garbage line": b"\x00\x01 garbage\r\n",
}


@pytest.mark.parametrize("broken", BROKEN.values(), ids=BROKEN.keys())
def test_the_message_after_a_broken_frame_is_read(broken):
    # (a broken frame may still yield a notification, id None: "one byte short" is valid JSON)
    assert [i for i in received(GOOD + broken + AFTER) if i is not None] == [1, 2]


def test_well_formed_messages_pass_unchanged_whatever_the_chunking():
    class Trickle(io.BytesIO):
        """A pipe that hands over 7 bytes at a time."""

        def read1(self, size=-1):
            return super().read1(7)

    big = frame({"jsonrpc": "2.0", "id": 3, "method": "x", "params": {"text": "Content-Length: 12\r\n" * 3000}})
    data = GOOD + big + AFTER
    assert received(data) == [1, 3, 2]
    assert received(data, Trickle) == [1, 3, 2]


def test_the_end_of_input_ends_the_loop():
    assert received(GOOD + frame(b'{"jsonrpc": "2.0", "id": 9', 100)) == [1]
