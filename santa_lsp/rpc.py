"""pygls' JSON-RPC protocol, with answers for the messages it would leave unanswered.

What pygls 2.1 does by itself, and what this adds:
- invalid JSON: pygls logs a traceback and sends nothing; here the client gets ParseError.
- params of the wrong shape: pygls raises from inside json.loads, so the request is never
  answered and the client waits forever; here it gets InvalidParams with the request's id.
- no or wrong `jsonrpc` field, or not an object at all: pygls drops it (or fails on it);
  here a request gets InvalidRequest.
- a request before `initialize`: pygls runs it against a workspace that does not exist yet;
  here it gets ServerNotInitialized, as the LSP specification asks, and notifications are dropped.
- documents: pygls re-splits the whole text on every change; here `didOpen`/`didChange`/
  `didClose` go to the server's own line-based store instead (santa_lsp/documents.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCProtocol, RPCRequest

if TYPE_CHECKING:
    from santa_lsp.server import SantaServer

log = logging.getLogger(__name__)

_ALWAYS_ALLOWED = {types.INITIALIZE, types.EXIT}


@dataclass(frozen=True)
class Unreadable:
    """A JSON-RPC message whose params do not have the shape its method requires."""

    id: Any
    method: str
    reason: str


class SantaProtocol(LanguageServerProtocol):
    _server: SantaServer

    def __init__(self, server: SantaServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialize_seen = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            cause = exc.__cause__ or exc
            return Unreadable(data.get("id"), str(data.get("method", "")), f"{type(cause).__name__}: {cause}")

    def handle_message(self, message: Any) -> None:
        if isinstance(message, Unreadable):
            log.warning("invalid params for %r (id %r): %s", message.method, message.id, message.reason)
            self._error(message.id, types.ErrorCodes.InvalidParams, f"invalid params for {message.method}")
        elif getattr(message, "jsonrpc", None) != JsonRPCProtocol.VERSION:
            msg_id = message.get("id") if isinstance(message, dict) else getattr(message, "id", None)
            log.warning("not a JSON-RPC 2.0 message, ignored: %.200r", message)
            self._error(msg_id, types.ErrorCodes.InvalidRequest, "not a JSON-RPC 2.0 message")
        elif not self.initialize_seen and getattr(message, "method", None) not in _ALWAYS_ALLOWED:
            self._before_initialize(message)
        else:
            if getattr(message, "method", None) == types.INITIALIZE:
                self.initialize_seen = True
            super().handle_message(message)

    def _before_initialize(self, message: Any) -> None:
        method = getattr(message, "method", None)
        log.warning("%s received before initialize: refused", method or "a response")
        if isinstance(message, RPCRequest):
            self._error(message.id, types.ErrorCodes.ServerNotInitialized, "initialize first")

    def _error(self, msg_id: Any, code: int, message: str) -> None:
        # Notifications (no id) get no answer; JSON-RPC sends id null when it is unknown.
        if msg_id is not None or code in (types.ErrorCodes.ParseError, types.ErrorCodes.InvalidRequest):
            # A plain dict: pygls' converter would leave out `"id": null`, which JSON-RPC requires.
            self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def parse_error(self, reason: str) -> None:
        self._error(None, types.ErrorCodes.ParseError, f"invalid JSON: {reason}")

    # --- documents: the server's own store ---------------------------------------------------

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        self._server.open_document(params.text_document)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        self._server.change_document(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        self._server.close_document(params.text_document.uri)
