"""The pygls wiring of ``tether lsp``: documents in, diagnostics and code actions out.

Diagnostics are *pushed* (``textDocument/publishDiagnostics``, debounced while the user types)
to clients that cannot pull, and *pulled* (``textDocument/diagnostic``) by clients that can, never
both, so no editor shows a finding twice. Settings come from the ``pyproject.toml`` /
``tether.toml`` nearest each document, re-read when it changes. Nothing a client sends may stop
the server: a half-typed buffer has no diagnostics until it parses again, and a malformed
request gets an error reply while the server goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from tether import __version__
from tether.config import ConfigError, Settings, find_config_file, load_file_settings
from tether.lsp import features
from tether.lsp.features import APPLY_FIXES_COMMAND, FIX_ALL_KIND, Analysis, Target
from tether.lsp.framing import ResyncingInput

logger = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_SECONDS = 0.25
CONFIG_FILES = ("pyproject.toml", "tether.toml")


class SettingsCache:
    """Settings per document, from the nearest config file; re-read when that file changes."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[int, Settings]] = {}
        self.reported_errors: set[str] = set()

    def clear(self) -> None:
        self._loaded.clear()

    def settings_for(self, path: str | None, fallback_dir: str | None) -> tuple[Settings, str | None]:
        """(settings, error): a broken config file gives the defaults and a one-line error."""
        start = path if path and os.path.isabs(path) else fallback_dir
        if not start:
            return Settings(), None
        config = find_config_file(start)
        if config is None:
            return Settings(), None
        try:
            stamp = os.stat(config).st_mtime_ns
        except OSError:
            return Settings(), None
        cached = self._loaded.get(config)
        if cached is not None and cached[0] == stamp:
            return cached[1], None
        try:
            settings = load_file_settings(config)
        except ConfigError as exc:
            return Settings(), str(exc)
        self._loaded[config] = (stamp, settings)
        return settings, None


class _Unanswerable:
    """Stands in for a request that could not be read; pygls drops messages of another version."""

    jsonrpc = "invalid"


class TetherProtocol(LanguageServerProtocol):
    """pygls' protocol, with two repairs that keep a long editing session healthy.

    - A request with unreadable params gets an error *reply*: pygls logs such a request and
      drops it, which leaves the client waiting forever; JSON-RPC says every request is answered.
    - Finished handlers are forgotten: pygls 2.1 files every notification it handles (each
      keystroke's ``didChange``) in ``_request_futures`` and removes only request replies, so
      memory grew by ~2 KB per keystroke, without bound.
    """

    def handle_message(self, message) -> None:
        self.forget_finished_handlers()
        super().handle_message(message)

    def forget_finished_handlers(self) -> None:
        """Drop done futures; pending ones (requests still running, our requests to the client
        awaiting a reply) stay, so cancellation and replies work as before."""
        finished = [msg_id for msg_id, future in list(self._request_futures.items()) if future.done()]
        for msg_id in finished:
            self._request_futures.pop(msg_id, None)

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                error = lsp.ResponseError(code=exc.code, message=f"tether: invalid params for {data['method']}")
                self._send_response(data["id"], error=error)
                return _Unanswerable()
            raise


@dataclass
class CachedAnalysis:
    key: str  # hash of the text + the settings that produced it; also the pull result id
    analysis: Analysis


class TetherLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "tether",
            __version__,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
            protocol_cls=TetherProtocol,
        )
        self.debounce_seconds = DEFAULT_DEBOUNCE_SECONDS
        self.settings_cache = SettingsCache()
        self.analyses: dict[str, CachedAnalysis] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.open_uris: set[str] = set()  # as the client spells them (pygls keys them unquoted)

    def report_server_error(self, error: Exception, source) -> None:
        """Log bad input and internal errors (the editor's LSP log) instead of popping up messages."""
        logger.warning("tether: %s: %s", getattr(source, "__name__", source), error)

    # -- client capabilities ---------------------------------------------------------------

    @property
    def client_pulls_diagnostics(self) -> bool:
        text_document = self.client_capabilities.text_document
        return text_document is not None and text_document.diagnostic is not None

    @property
    def client_refreshes_diagnostics(self) -> bool:
        workspace = self.client_capabilities.workspace
        return bool(workspace and workspace.diagnostics and workspace.diagnostics.refresh_support)

    @property
    def client_versioned_edits(self) -> bool:
        workspace = self.client_capabilities.workspace
        return bool(workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes)

    @property
    def position_encoding(self) -> str:
        encoding = self.workspace.position_encoding or lsp.PositionEncodingKind.Utf16
        return getattr(encoding, "value", encoding)

    # -- documents -------------------------------------------------------------------------

    def document_path(self, uri: str) -> str:
        return to_fs_path(uri) or uri

    def settings_for(self, uri: str) -> Settings:
        path = to_fs_path(uri)
        settings, error = self.settings_cache.settings_for(path, self.workspace.root_path)
        if error and error not in self.settings_cache.reported_errors:
            self.settings_cache.reported_errors.add(error)
            message = f"tether: {error}; using the defaults"
            self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=message))
        return settings

    def is_open(self, uri: str) -> bool:
        return uri in self.open_uris

    def analysis_for(self, uri: str) -> tuple[Analysis, Settings, int | None]:
        """The analysis of an open document's current text (cached per text and settings)."""
        document = self.workspace.get_text_document(uri)
        settings = self.settings_for(uri)
        key = hashlib.sha256(document.source.encode("utf-8", "surrogatepass")).hexdigest() + settings.cache_key()
        cached = self.analyses.get(uri)
        if cached is None or cached.key != key:
            analysis = features.analyse_document(document.source, self.document_path(uri), settings)
            cached = CachedAnalysis(key, analysis)
            self.analyses[uri] = cached
        return cached.analysis, settings, document.version

    def target(self, uri: str, version: int | None) -> Target:
        return Target(uri, version, self.client_versioned_edits)

    # -- push diagnostics ------------------------------------------------------------------

    def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        if not self.is_open(uri):
            return  # closed while waiting
        try:
            analysis, _, version = self.analysis_for(uri)
            items = features.diagnostics(analysis, self.position_encoding)
        except Exception:  # a bug in a rule must not take the editor's server down
            logger.exception("tether: analysing %s failed", uri)
            items = []
            version = None
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version))

    def schedule(self, uri: str, delay: float) -> None:
        if self.client_pulls_diagnostics:
            return  # the client asks when it wants them
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        if delay <= 0:
            self.publish(uri)
        else:
            self.pending[uri] = loop.call_later(delay, self.publish, uri)

    def refresh_all(self) -> None:
        """Settings changed: every open document's diagnostics may have changed."""
        self.settings_cache.clear()
        self.analyses.clear()
        if self.client_pulls_diagnostics:
            if self.client_refreshes_diagnostics:
                self.workspace_diagnostic_refresh(None)
            return
        for uri in sorted(self.open_uris):
            self.schedule(uri, 0)


server = TetherLanguageServer()


@server.feature(lsp.INITIALIZE)
def on_initialize(ls: TetherLanguageServer, params: lsp.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounceMs"), (int, float)):
        ls.debounce_seconds = max(0.0, options["debounceMs"] / 1000)


@server.feature(lsp.INITIALIZED)
async def on_initialized(ls: TetherLanguageServer, params: lsp.InitializedParams) -> None:
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if watched is None or not watched.dynamic_registration:
        return
    watchers = [lsp.FileSystemWatcher(glob_pattern=f"**/{name}") for name in CONFIG_FILES]
    registration = lsp.Registration(
        id="tether-config-watch",
        method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=lsp.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
    )
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[registration]))
    except Exception:  # the client refused: settings are still re-read when documents change
        logger.info("tether: the client did not accept a file watcher")


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def on_open(ls: TetherLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.open_uris.add(params.text_document.uri)
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def on_change(ls: TetherLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.debounce_seconds)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def on_save(ls: TetherLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    if os.path.basename(params.text_document.uri) in CONFIG_FILES:
        ls.refresh_all()
    else:
        ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def on_close(ls: TetherLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.open_uris.discard(uri)
    pending = ls.pending.pop(uri, None)
    if pending is not None:
        pending.cancel()
    ls.analyses.pop(uri, None)
    if not ls.client_pulls_diagnostics:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def on_watched_files(ls: TetherLanguageServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    if any(os.path.basename(change.uri) in CONFIG_FILES for change in params.changes):
        ls.refresh_all()


@server.feature(
    lsp.TEXT_DOCUMENT_DIAGNOSTIC,
    lsp.DiagnosticOptions(identifier="tether", inter_file_dependencies=False, workspace_diagnostics=False),
)
def on_pull_diagnostics(ls: TetherLanguageServer, params: lsp.DocumentDiagnosticParams):
    if not ls.is_open(params.text_document.uri):
        return lsp.RelatedFullDocumentDiagnosticReport(items=[])
    analysis, settings, _ = ls.analysis_for(params.text_document.uri)
    result_id = ls.analyses[params.text_document.uri].key
    if params.previous_result_id == result_id:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    return lsp.RelatedFullDocumentDiagnosticReport(
        items=features.diagnostics(analysis, ls.position_encoding), result_id=result_id
    )


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=False),
)
def on_code_action(ls: TetherLanguageServer, params: lsp.CodeActionParams):
    uri = params.text_document.uri
    if not ls.is_open(uri):
        return None
    analysis, settings, version = ls.analysis_for(uri)
    return features.code_actions(
        analysis,
        ls.document_path(uri),
        settings,
        ls.target(uri, version),
        params.range,
        params.context,
        ls.position_encoding,
    ) or None


@server.command(APPLY_FIXES_COMMAND)
async def apply_fixes(ls: TetherLanguageServer, *arguments: Any):
    """``tether.applyFixes`` with a document URI (or ``{"uri": ...}``): apply ``tether fix`` to it."""
    uri = _uri_argument(arguments)
    if uri is None:
        raise ValueError(f"{APPLY_FIXES_COMMAND} expects a document URI argument")
    if not ls.is_open(uri):
        raise ValueError(f"{APPLY_FIXES_COMMAND}: {uri} is not an open document")
    analysis, settings, version = ls.analysis_for(uri)
    if analysis.findings is None:
        return {"applied": False, "reason": "the document does not parse"}
    edits = features.fix_all_edits(analysis.text, ls.document_path(uri), settings, ls.position_encoding)
    if not edits:
        return {"applied": False, "reason": "nothing to fix"}
    result = await ls.workspace_apply_edit_async(
        lsp.ApplyWorkspaceEditParams(edit=features.workspace_edit(ls.target(uri, version), edits), label="tether: fix all")
    )
    return {"applied": bool(result and result.applied)}


def _uri_argument(arguments) -> str | None:
    # pygls passes the raw argument list; some clients nest it once more
    while len(arguments) == 1 and isinstance(arguments[0], (list, tuple)):
        arguments = arguments[0]
    if not arguments:
        return None
    first = arguments[0]
    if isinstance(first, str):
        return first
    if isinstance(first, dict) and isinstance(first.get("uri"), str):
        return first["uri"]
    uri = getattr(first, "uri", None)
    return uri if isinstance(uri, str) else None


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="tether-lsp: %(levelname)s: %(message)s")
    # stdin that finds the next message after a malformed frame (pygls alone would go deaf)
    server.start_io(stdin=ResyncingInput(sys.stdin.buffer))
