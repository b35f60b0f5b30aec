"""`tether lsp` driven by a real LSP client (pytest-lsp) over stdio.

Every test runs twice: as VS Code 1.65 (no pull diagnostics: the server must push them, in
UTF-16 positions) and as Neovim 0.11 (pulls diagnostics, negotiates UTF-8 positions).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp_support import acceptance_document, apply_edits, edits_of, units_to_chars, write_project
from tether.registry import rule_by_code

def make_client() -> LanguageClient:
    """pytest-lsp's client, plus what an editor does: keep each push with its version, apply
    edits the server asks for, accept dynamic registrations."""
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
    from pygls.protocol import default_converter

    client = LanguageClient(converter_factory=default_converter)
    client.published = {}
    client.edits_applied = []

    def publish(client_: LanguageClient, params: lsp.PublishDiagnosticsParams):
        client_.published.setdefault(params.uri, []).append(params)
        client_.diagnostics[params.uri] = params.diagnostics

    def apply_edit(client_: LanguageClient, params: lsp.ApplyWorkspaceEditParams):
        client_.edits_applied.append(params.edit)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    def register(client_: LanguageClient, params: lsp.RegistrationParams):
        return None

    features = {
        **DEFAULT_CLIENT_FEATURES,
        lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
        lsp.WORKSPACE_APPLY_EDIT: apply_edit,
        lsp.CLIENT_REGISTER_CAPABILITY: register,
    }
    register_lsp_features(client, features)
    return client


SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "tether", "lsp"], client_factory=make_client)
CLIENTS = ["visual-studio-code", "neovim"]
DANGLING = "import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"


@pytest_lsp.fixture(config=SERVER, params=CLIENTS)
async def client(lsp_client: LanguageClient, request, tmp_path: Path):
    write_project(tmp_path)
    lsp_client.root = tmp_path
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="project")],
            # wide enough that a burst of edits stays one burst on a busy machine
            initialization_options={"debounceMs": 400},
        )
    )
    lsp_client.encoding = getattr(result.capabilities.position_encoding, "value", result.capabilities.position_encoding) or "utf-16"
    lsp_client.pulls = lsp_client.capabilities.text_document.diagnostic is not None
    yield
    await lsp_client.shutdown_session()


class Doc:
    """An open document as the client sees it."""

    def __init__(self, client: LanguageClient, name: str, text: str):
        self.client = client
        self.path = client.root / name
        self.path.write_text(text, encoding="utf-8")
        self.uri = self.path.as_uri()
        self.text = text
        self.version = 1
        self.consumed = 0  # pushes already returned by diagnostics()
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=self.uri, language_id="python", version=1, text=text))
        )

    def change(self, text: str) -> None:
        self.version += 1
        self.text = text
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def apply(self, edit: lsp.WorkspaceEdit) -> str:
        """Apply a workspace edit as incremental changes (exercising the server's sync too)."""
        edits = edits_of(edit, self.uri)
        assert edits, "the edit must touch this document"
        if edit.document_changes:
            assert edit.document_changes[0].text_document.version == self.version
        new_text = apply_edits(self.text, edits, self.client.encoding)
        self.version += 1
        # later edits first, so earlier positions stay valid for the server too
        ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[lsp.TextDocumentContentChangePartial(range=e.range, text=e.new_text) for e in ordered],
            )
        )
        self.text = new_text
        return new_text

    async def diagnostics(self, fresh: bool = False) -> list[lsp.Diagnostic]:
        """The diagnostics of the current version: pulled, or the push for this version.

        ``fresh``: wait for a push not returned before (settings changed, text did not).
        """
        if self.client.pulls:
            report = await self.client.text_document_diagnostic_async(
                lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=self.uri))
            )
            return list(report.items)
        published = self.client.published.setdefault(self.uri, [])

        async def current():
            while True:
                new = len(published) > self.consumed
                if published and published[-1].version == self.version and (new or not fresh):
                    self.consumed = len(published)
                    return list(published[-1].diagnostics)
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(current(), 60)

    async def actions(self, rng: lsp.Range, diagnostics=(), only=None) -> list[lsp.CodeAction]:
        result = await self.client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=self.uri),
                range=rng,
                context=lsp.CodeActionContext(diagnostics=list(diagnostics), only=only),
            )
        )
        return list(result or [])


def _compiles(text: str) -> None:
    compile(text, "<fixed>", "exec", dont_inherit=True)


@pytest.mark.asyncio
async def test_acceptance_every_finding_is_reported_and_its_quick_fix_removes_it(client: LanguageClient):
    text, expected = acceptance_document()
    doc = Doc(client, "app.py", text)
    found = await doc.diagnostics()
    assert sorted((d.code, d.range.start.line) for d in found) == sorted(expected)
    for d in found:
        assert d.source == "tether"
        assert d.code_description.href == rule_by_code(d.code).url
    current = found
    while current:  # fix them one at a time, first diagnostic first
        target = current[0]
        actions = await doc.actions(target.range, [target])
        fixes = [a for a in actions if a.kind == lsp.CodeActionKind.QuickFix and a.diagnostics[0].code == target.code]
        first = fixes[0]
        assert first.is_preferred and "unsafe" not in first.title
        fixed = doc.apply(first.edit)
        _compiles(fixed)
        remaining = await doc.diagnostics()
        assert sorted(d.code for d in remaining) == sorted(d.code for d in current[1:])  # that one is gone
        current = remaining
    assert await doc.diagnostics() == []


@pytest.mark.asyncio
async def test_positions_count_code_units_of_the_negotiated_encoding(client: LanguageClient):
    # An emoji (outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes) and an accented letter before the call.
    text = 'import asyncio\n\n\nasync def main():\n    x = "é😀"; asyncio.create_task(main())\n'
    doc = Doc(client, "emoji.py", text)
    (d,) = await doc.diagnostics()
    line = text.splitlines()[4]
    assert d.range.start.line == 4
    start = units_to_chars(line, d.range.start.character, client.encoding)
    end = units_to_chars(line, d.range.end.character, client.encoding)
    assert line[start:end] == "asyncio.create_task(main())"
    expected_units = {"utf-16": 15, "utf-8": 18, "utf-32": 14}[client.encoding]
    assert d.range.start.character == expected_units
    (fix, *_) = await doc.actions(d.range, [d])
    fixed = doc.apply(fix.edit)
    assert 'x = "é😀"; _keep_task(asyncio.create_task(main()))' in fixed
    assert await doc.diagnostics() == []


@pytest.mark.asyncio
async def test_disable_for_this_line_adds_noqa_and_the_finding_goes(client: LanguageClient):
    doc = Doc(client, "noqa.py", DANGLING.replace("(main())\n", "(main())  # noqa: E501\n"))
    (d,) = await doc.diagnostics()
    actions = await doc.actions(d.range, [d])
    (disable,) = [a for a in actions if a.title == "Disable TET101 for this line"]
    fixed = doc.apply(disable.edit)
    assert fixed.splitlines()[4] == "    asyncio.create_task(main())  # noqa: E501, TET101"
    assert await doc.diagnostics() == []


@pytest.mark.asyncio
async def test_fix_all_source_action_and_apply_fixes_command(client: LanguageClient):
    text, expected = acceptance_document()
    doc = Doc(client, "all.py", text)
    assert len(await doc.diagnostics()) == len(expected)
    whole = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    (fix_all,) = await doc.actions(whole, only=[lsp.CodeActionKind.SourceFixAll])
    assert fix_all.kind == "source.fixAll.tether"
    assert await doc.actions(whole, only=[lsp.CodeActionKind.Refactor]) == []
    fixed_by_action = apply_edits(text, edits_of(fix_all.edit, doc.uri), client.encoding)
    _compiles(fixed_by_action)

    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="tether.applyFixes", arguments=[doc.uri])
    )
    assert result == {"applied": True}
    (edit,) = client.edits_applied
    assert doc.apply(edit) == fixed_by_action
    assert await doc.diagnostics() == []
    again = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="tether.applyFixes", arguments=[{"uri": doc.uri}])
    )
    assert again == {"applied": False, "reason": "nothing to fix"}


@pytest.mark.asyncio
async def test_half_typed_file_clears_diagnostics_and_recovers(client: LanguageClient):
    doc = Doc(client, "typing.py", DANGLING)
    assert len(await doc.diagnostics()) == 1
    doc.change(DANGLING + "    await asyncio.gather(\n")  # the user is typing
    assert await doc.diagnostics() == []
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(6, 0))
    assert await doc.actions(everything) == []
    doc.change(DANGLING + "    await asyncio.sleep(0)\n")
    (d,) = await doc.diagnostics()
    assert d.range.start.line == 4


async def _raw(client: LanguageClient, payload: bytes) -> None:
    """Write bytes to the server as one message, bypassing the client's serializer."""
    written = client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
    if asyncio.iscoroutine(written):
        await written


async def _raw_request(client: LanguageClient, method: str, params) -> object:
    """A request whose params the typed client would refuse to send; returns the reply's future."""
    msg_id = f"raw-{uuid.uuid4()}"
    reply = asyncio.get_running_loop().create_future()
    client.protocol._request_futures[msg_id] = reply
    await _raw(client, json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode())
    return await asyncio.wait_for(reply, 60)


@pytest.mark.asyncio
async def test_malformed_input_gets_errors_and_the_server_keeps_working(client: LanguageClient):
    doc = Doc(client, "robust.py", DANGLING)
    assert len(await doc.diagnostics()) == 1
    # requests whose params have the wrong shape get an error reply
    with pytest.raises(JsonRpcException):
        await _raw_request(client, lsp.TEXT_DOCUMENT_CODE_ACTION, {"textDocument": 42})
    with pytest.raises(JsonRpcException):
        await _raw_request(client, lsp.TEXT_DOCUMENT_DIAGNOSTIC, [])
    # a method nobody implements
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("tether/noSuchMethod", {})
    # the command without its argument, and for a document that is not open
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="tether.applyFixes", arguments=[]))
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="tether.applyFixes", arguments=["file:///nowhere/x.py"])
        )
    # notifications with broken params, and bytes that are not JSON at all
    await _raw(client, b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": 1}}')
    await _raw(client, b"{this is not json")
    # code actions for a document the client never opened
    unopened = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=(client.root / "never.py").as_uri()),
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert not unopened
    # still alive and correct
    doc.change(DANGLING.replace("main())", "main())\n    asyncio.create_task(main())"))
    assert len(await doc.diagnostics()) == 2


@pytest.mark.asyncio
async def test_settings_come_from_the_workspace_pyproject_and_are_reread(client: LanguageClient):
    write_project(client.root, 'ignore = ["TET101"]\n')
    doc = Doc(client, "configured.py", DANGLING)
    assert await doc.diagnostics() == []
    write_project(client.root)
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=(client.root / "pyproject.toml").as_uri(), type=lsp.FileChangeType.Changed)]
        )
    )
    (d,) = await doc.diagnostics(fresh=True)
    assert d.code == "TET101"
    # saving re-checks too (a push client gets a fresh publication)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=doc.uri)))
    assert [d.code for d in await doc.diagnostics(fresh=not client.pulls)] == ["TET101"]


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)  # pulling clients ask themselves
async def test_changes_are_debounced_to_the_latest_version(client: LanguageClient):
    doc = Doc(client, "debounce.py", DANGLING)
    assert len(await doc.diagnostics()) == 1
    before = len(client.published[doc.uri])
    for count in range(2, 6):
        doc.change(DANGLING + "    asyncio.create_task(main())\n" * (count - 1))
    assert len(await doc.diagnostics()) == 5
    # the first publication after a burst of edits is for the last one, not the first
    assert client.published[doc.uri][before].version == doc.version


@pytest.mark.asyncio
@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_pulling_clients_get_no_pushed_diagnostics_and_unchanged_reports(client: LanguageClient):
    doc = Doc(client, "pull.py", DANGLING)
    first = await client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=doc.uri))
    )
    assert [d.code for d in first.items] == ["TET101"]
    again = await client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=doc.uri), previous_result_id=first.result_id)
    )
    assert again.kind == "unchanged" and again.result_id == first.result_id
    assert client.published == {}  # nothing was pushed: the editor would show it twice


@pytest.mark.asyncio
async def test_a_broken_config_is_reported_once_and_the_defaults_apply(client: LanguageClient):
    (client.root / "pyproject.toml").write_text('[tool.tether]\nignroe = ["TET101"]\n')
    first = Doc(client, "one.py", DANGLING)
    second = Doc(client, "two.py", DANGLING)
    assert [d.code for d in await first.diagnostics()] == ["TET101"]
    assert [d.code for d in await second.diagnostics()] == ["TET101"]
    warnings = [m.message for m in client.messages if "ignroe" in m.message]
    assert len(warnings) == 1 and "unknown [tool.tether] key(s): ignroe" in warnings[0]


@pytest.mark.asyncio
async def test_an_unsaved_buffer_is_checked_with_the_workspace_settings(client: LanguageClient):
    uri = "untitled:Untitled-1"
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=DANGLING))
    )
    buffer = Doc.__new__(Doc)  # a document with no file behind it
    buffer.client, buffer.uri, buffer.text, buffer.version, buffer.consumed = client, uri, DANGLING, 1, 0
    assert [d.code for d in await buffer.diagnostics()] == ["TET101"]
    write_project(client.root, 'ignore = ["TET101"]\n')
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=(client.root / "pyproject.toml").as_uri(), type=lsp.FileChangeType.Changed)]
        )
    )
    assert await buffer.diagnostics(fresh=True) == []  # the workspace's pyproject.toml now ignores TET101
