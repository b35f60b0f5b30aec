"""`tether lsp` under abuse: 1,000 rapid edits, malformed frames, and its memory across bursts.

An editor sends a change per keystroke and sometimes garbage (a crashed plugin, a broken pipe
buffer). The server must end on exactly the diagnostics of the final text, keep answering, and
not grow with the number of edits it has seen.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp_support import apply_edits, edits_of, units_to_chars, write_project
from test_lsp import Doc, make_client
from tether.config import load_file_settings
from tether.engine import analyse

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "tether", "lsp"], client_factory=make_client)
EDITS = 1000
HEAD = "import asyncio\n\n\nasync def work():\n    await asyncio.sleep(0)\n\n\nasync def main():\n"
# lines a user might type in main(); some are findings, some are half-typed (do not parse)
BODY_LINES = (
    "    asyncio.create_task(work())\n",
    "    await asyncio.gather(work(), work())\n",
    "    task = asyncio.ensure_future(work())\n",
    "    await asyncio.sleep(0)\n",
    "    x = [i for i in range(3)]\n",
    "    await asyncio.gather(\n",  # half-typed
)


@pytest_lsp.fixture(config=SERVER, params=["visual-studio-code", "neovim"])
async def client(lsp_client: LanguageClient, request, tmp_path: Path):
    write_project(tmp_path)
    lsp_client.root = tmp_path
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="project")],
            # short: publications also happen in the middle of the burst, and must not win
            initialization_options={"debounceMs": 5},
        )
    )
    lsp_client.encoding = getattr(result.capabilities.position_encoding, "value", result.capabilities.position_encoding) or "utf-16"
    lsp_client.pulls = lsp_client.capabilities.text_document.diagnostic is not None
    yield
    await lsp_client.shutdown_session()


def position(text: str, offset: int) -> lsp.Position:
    """LSP position of a character offset (the burst's text is ASCII: characters are code units)."""
    before = text[:offset]
    return lsp.Position(before.count("\n"), offset - (before.rfind("\n") + 1))


def incremental_change(old: str, new: str) -> lsp.TextDocumentContentChangePartial:
    """The one range replacement that turns ``old`` into ``new`` (common prefix and suffix kept)."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old, end_new = end_old - 1, end_new - 1
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(position(old, start), position(old, end_old)), text=new[start:end_new]
    )


def send_changes(doc: Doc, changes: list) -> None:
    doc.version += 1
    doc.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version), content_changes=changes
        )
    )


def burst(doc: Doc, count: int, rng: random.Random) -> None:
    """``count`` didChange notifications as fast as the client can write them: whole-text
    replacements, single incremental edits and notifications carrying two edits in a row."""
    body = [line for line in doc.text[len(HEAD) :].splitlines(keepends=True)]
    for _ in range(count):
        kind = rng.random()
        new_body = list(body)
        if new_body and rng.random() < 0.45:
            del new_body[rng.randrange(len(new_body))]
        else:
            new_body.insert(rng.randrange(len(new_body) + 1), rng.choice(BODY_LINES))
        new_text = HEAD + "".join(new_body) + "    return 1\n"
        if kind < 0.3:
            send_changes(doc, [lsp.TextDocumentContentChangeWholeDocument(text=new_text)])
        elif kind < 0.8:
            send_changes(doc, [incremental_change(doc.text, new_text)])
        else:  # two edits in one notification: each applies to the result of the one before
            middle = HEAD + "".join(new_body) + "    return 2\n"
            send_changes(doc, [incremental_change(doc.text, middle), incremental_change(middle, new_text)])
        doc.text, body = new_text, new_body


def expected_findings(client: LanguageClient, text: str, name: str) -> list[tuple]:
    """What `tether check` finds in ``text``, as (code, start line, start char, end line, end char),
    0-based like LSP (tether counts lines and columns from 1)."""
    settings = load_file_settings(str(client.root / "pyproject.toml"))
    try:
        _, findings = analyse(text, str(client.root / name), settings)
    except SyntaxError:
        return []
    return sorted((f.code, f.line - 1, f.col - 1, f.end_line - 1, f.end_col - 1) for f in findings)


def as_findings(diagnostics, text: str, encoding: str) -> list[tuple]:
    lines = text.splitlines()

    def char(pos: lsp.Position) -> int:
        return units_to_chars(lines[pos.line], pos.character, encoding) if pos.line < len(lines) else pos.character

    return sorted(
        (d.code, d.range.start.line, char(d.range.start), d.range.end.line, char(d.range.end)) for d in diagnostics
    )


@pytest.mark.asyncio
async def test_after_1000_rapid_changes_the_diagnostics_are_those_of_the_final_text(client: LanguageClient):
    start = HEAD + "    asyncio.create_task(work())\n    return 1\n"
    doc = Doc(client, "burst.py", start)
    assert len(await doc.diagnostics()) == 1
    rng = random.Random(20261122)
    burst(doc, EDITS, rng)
    if "await asyncio.gather(\n" in doc.text:  # end on a parsable text, so there is something to compare
        doc.change(doc.text.replace("    await asyncio.gather(\n", "    await asyncio.gather(work())\n"))
    expected = expected_findings(client, doc.text, "burst.py")
    assert expected, "the final text must hold findings, or this proves little"
    final = await doc.diagnostics()
    assert as_findings(final, doc.text, client.encoding) == expected
    if not client.pulls:  # pushes carry the version they describe: the last one is the final text's
        assert client.published[doc.uri][-1].version == doc.version
    # the server still answers requests, about the final text
    first = min(final, key=lambda d: (d.range.start.line, d.range.start.character))
    actions = await doc.actions(first.range, [first])
    fixes = [a for a in actions if a.kind == lsp.CodeActionKind.QuickFix and a.diagnostics and a.diagnostics[0].code == first.code]
    assert fixes
    fixed = apply_edits(doc.text, edits_of(fixes[0].edit, doc.uri), client.encoding)
    compile(fixed, "burst.py", "exec", dont_inherit=True)


def frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


MALFORMED = {
    "a Content-Length that is not a number": b"Content-Length: abc\r\n\r\n" + b'{"jsonrpc": "2.0", "method": "x"}',
    "no header at all": b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}',
    "a body shorter than its Content-Length (truncated)": frame(b'{"jsonrpc": "2.0", "method": "textDocument/didCh', 4096),
    "a body longer than its Content-Length": frame(b'{"jsonrpc": "2.0", "method": "x", "params": {}}', 20),
    "a body that is not JSON": frame(b"{this is not json"),
    "a body that is not UTF-8": frame(b'{"jsonrpc": "2.0", "method": "\xff\xfe"}'),
    "JSON that is not an object": frame(b"[1, 2, 3]"),
    "a JSON-RPC request without a method": frame(b'{"jsonrpc": "2.0", "id": 4242, "params": {}}'),
    "a JSON-RPC notification without a method": frame(b'{"jsonrpc": "2.0", "params": {"x": 1}}'),
    "a message of another JSON-RPC version": frame(b'{"jsonrpc": "1.0", "id": 7, "method": "shutdown"}'),
    "an empty body": frame(b""),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_after_each_malformed_frame_the_next_request_is_answered(client: LanguageClient):
    doc = Doc(client, "frames.py", HEAD + "    asyncio.create_task(work())\n")
    assert len(await doc.diagnostics()) == 1
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(10, 0))
    for what, data in MALFORMED.items():
        await _raw_bytes(client, data)
        # the very next request must not be swallowed by the broken frame before it
        actions = await asyncio.wait_for(doc.actions(everything), 30)
        assert any(a.kind == lsp.CodeActionKind.QuickFix for a in actions), what
    doc.change(doc.text + "    asyncio.create_task(work())\n")
    assert len(await doc.diagnostics()) == 2


async def _raw_bytes(client: LanguageClient, data: bytes) -> None:
    written = client.protocol.writer.write(data)
    if asyncio.iscoroutine(written):
        await written


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


@pytest.mark.asyncio
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc (Linux)")
@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_memory_does_not_grow_with_the_number_of_edits(client: LanguageClient):
    """A resource bound, not a timing one: after a warm-up, more bursts must not add memory.

    pygls alone kept ~2 KB per notification forever (see TetherProtocol): 3,000 more edits
    grew the server by ~6 MB. Allocator noise stays well under the bound.
    """
    pid = client._server.pid
    doc = Doc(client, "memory.py", HEAD + "    asyncio.create_task(work())\n    return 1\n")
    await doc.diagnostics()
    rng = random.Random(7)
    sizes = []
    for _ in range(5):
        burst(doc, EDITS, rng)
        doc.change(HEAD + "    asyncio.create_task(work())\n    return 1\n")  # same final text each time
        assert len(await doc.diagnostics()) == 1
        sizes.append(resident_kb(pid))
    growth_kb = sizes[-1] - sizes[1]
    assert growth_kb < 3 * 1024, f"RSS after each burst (KB): {sizes}"
