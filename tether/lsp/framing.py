"""The server's stdin, able to find the next message after a malformed one.

LSP frames messages as ``Content-Length: N`` headers, a blank line and N bytes of JSON. pygls
reads that framing from a plain binary stream and trusts it: after one frame with a bad
header (``Content-Length: abc``) or a length that does not match its body, every later header
arrives glued to leftover bytes, never matches, and the server goes deaf for the rest of the
session, without crashing and without saying so. This stream puts the reader back on the
next header instead:

- ``readline`` drops garbage that precedes a ``Content-Length`` header on the same line;
- ``read(n)`` stops early when a header appears inside the n bytes. A raw
  ``Content-Length: <digits>\\r\\n`` cannot occur inside valid JSON (a string cannot hold a raw
  CR/LF, and outside strings the words are not JSON), so such a body is broken anyway and the
  header is where the next message starts. The broken part still reaches pygls, which logs it.

Only messages lost for good are those whose header itself is cut (a frame whose declared length
ends inside the next header): no reader can tell where that message began.
"""

from __future__ import annotations

import logging
import re
from typing import BinaryIO

logger = logging.getLogger(__name__)

HEADER = re.compile(rb"Content-Length: \d+\r\n")  # what pygls accepts, exactly
CHUNK = 65536
LONGEST_HEADER = 64  # bytes to look back when a header may straddle two chunks


class ResyncingInput:
    """A binary stream for pygls' reader loop (``readline`` and ``read``), see the module doc."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._read_some = getattr(stream, "read1", None) or stream.read
        self._buffer = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        """Append what the stream has (blocking until something arrives); False at the end."""
        if self._eof:
            return False
        chunk = self._read_some(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self) -> bytes:
        searched = 0
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                line = self._take(newline + 1)
                break
            searched = len(self._buffer)
            if not self._fill():
                return self._take(len(self._buffer))
        header = HEADER.search(line)
        if header is not None and header.start() > 0:
            logger.warning("tether: skipped %d bytes of garbage before a message header", header.start())
            return line[header.start() :]
        return line

    def read(self, size: int) -> bytes:
        searched = 0
        while True:
            header = HEADER.search(self._buffer, max(0, searched - LONGEST_HEADER))
            if header is not None and header.start() < size:
                logger.warning("tether: a message was shorter than its Content-Length; reading on from the next header")
                # never return b"" (pygls reads that as the end of input): a broken body is fine
                return self._take(header.start()) or b"\n"
            if len(self._buffer) >= size:
                return self._take(size)
            searched = len(self._buffer)
            if not self._fill():
                return self._take(len(self._buffer))
