"""Reading and writing source files without losing a byte of what we did not mean to change.

A codemod that re-encodes a latin-1 file, drops a BOM, turns CRLF into LF or resets the
executable bit has changed code it had no business touching. Everything here works on the
exact bytes: the text is decoded with the file's own declared encoding (PEP 263 cookie or
BOM), newlines are never translated, and writes go through a temporary file in the same
directory that takes the original's mode before it atomically replaces it.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python's tokenizer splits them.

    ``str.splitlines`` also splits on form feeds and other characters that Python treats as
    ordinary whitespace, which would shift every line number after them.
    """
    return _LINE.findall(text)


def _sha256(data: bytes) -> str:
    import hashlib  # here, not at import: loading OpenSSL costs every run ~10 ms

    return hashlib.sha256(data).hexdigest()


class SourceError(Exception):
    """A file that cannot be read, decoded or written; the message is one line for the user."""


@dataclass(frozen=True)
class SourceFile:
    """A decoded source file, with what is needed to write it back byte-faithfully."""

    path: str
    text: str
    encoding: str  # as tokenize reports it: "utf-8", "utf-8-sig" (BOM), "iso-8859-1", ...
    newline: str  # the first line ending in the file, used for any line tether adds
    digest: str  # sha256 of the raw bytes, to detect a file changed between read and write

    @property
    def has_bom(self) -> bool:
        return self.encoding == "utf-8-sig"

    def encode(self, text: str) -> bytes:
        return encode_text(text, self.encoding)


def detect_newline(text: str) -> str:
    """The file's line ending: the first one found, or LF for a file with a single line."""
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    if index == -1 and "\r" in text:
        return "\r"
    return "\n"


def decode_bytes(data: bytes, path: str) -> SourceFile:
    """Decode raw bytes the way Python itself would, keeping newlines exactly as they are."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"{path}: cannot decode: {exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"{path}: cannot decode as {encoding}: {exc.__class__.__name__}: {exc}") from None
    if encoding == "utf-8-sig" and text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(
        path=path,
        text=text,
        encoding=encoding,
        newline=detect_newline(text),
        digest=_sha256(data),
    )


def encode_text(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return text.encode(encoding)


def read_source(path: str) -> SourceFile:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, expected a Python file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_bytes(data, path)


def write_source(source: SourceFile, new_text: str) -> None:
    """Atomically replace ``source.path`` with ``new_text`` in the file's own encoding.

    Refuses (SourceError) when the file changed on disk since it was read, when it cannot be
    encoded, or when the directory is not writable; the original is then left as it was.
    """
    path = source.path
    try:
        data = source.encode(new_text)
    except UnicodeEncodeError as exc:
        raise SourceError(f"{path}: the fix cannot be encoded as {source.encoding}: {exc.reason}") from None
    try:
        with open(path, "rb") as handle:
            current = handle.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot re-read before writing: {exc.strerror or exc}") from None
    if _sha256(current) != source.digest:
        raise SourceError(f"{path}: changed on disk while tether was working; skipped, run again")
    real_path = os.path.realpath(path)
    try:
        status = os.stat(real_path)
        mode = stat.S_IMODE(status.st_mode)
    except OSError as exc:
        raise SourceError(f"{path}: cannot stat: {exc.strerror or exc}") from None
    # Write bits, not just os.access: root may write anything, but a file somebody made
    # read-only says "do not change me" whoever runs the tool.
    if not os.access(real_path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise SourceError(f"{path}: file is read-only; not modified")
    directory = os.path.dirname(real_path) or "."
    try:
        import tempfile  # writes only: not paid by check runs

        fd, temp_path = tempfile.mkstemp(prefix=".tether-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise SourceError(f"{path}: cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_path, mode)
        if (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
            _keep_owner(temp_path, status)
        os.replace(temp_path, real_path)
    except OSError as exc:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise SourceError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _keep_owner(temp_path: str, status: os.stat_result) -> None:
    """Give the replacement the original's owner (possible as root, e.g. a fix run with sudo
    or in a container); otherwise the file would silently change hands."""
    try:
        os.chown(temp_path, status.st_uid, status.st_gid)
    except OSError:
        pass  # an ordinary user cannot give files away; the file becomes theirs, as with any editor
