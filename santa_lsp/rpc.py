"""pygls' JSON-RPC protocol, with an answer for every request pygls would leave unanswered.

The read loops here take frames from santa_lsp/framing.py (which reads the stream where pygls' own reader loses
its place) and hand them to SantaProtocol. What pygls 2.1 does by itself, and what this adds (each of these is a
pygls bug or gap, fixed here locally):
- a frame that cannot be read (santa_lsp/framing.py): ParseError, with the request's id when it can be read.
- invalid JSON: pygls logs a traceback and sends nothing; here ParseError. JSON nested too deeply for the
  decoder (RecursionError): InvalidRequest.
- not a JSON-RPC 2.0 message, a method that is not a string, an id that is not an integer or a string:
  pygls drops it or answers InternalError with a traceback; here InvalidRequest.
- params of the wrong shape: pygls raises from inside json.loads, so the request is never answered;
  here InvalidParams with the request's id.
- a notification sent with an id: pygls runs it as a notification and never answers; here InvalidRequest.
- lone UTF-16 surrogates ("\\ud800" in the JSON): they become U+FFFD as the message is read, so no later step
  fails on a string that cannot be encoded.
- a request before `initialize`: pygls runs it against a workspace that does not exist yet; here it gets
  ServerNotInitialized, as the LSP specification asks, and notifications are dropped. After `shutdown`,
  pygls drops requests silently; here they get InvalidRequest.
- `exit`: pygls calls sys.exit inside the read loop and its start_io swallows the SystemExit, so the process
  always ended with 0; here the loop stops and the server exits with 1 unless `shutdown` came first.
- a response the server never asked for: pygls takes the id for one of its own futures (possibly the one of a
  request it is working on, which then fails and can no longer be cancelled); here it is logged and ignored.
- a failed request: pygls logs its traceback at error level, and an unexpected exception goes back with the
  traceback in `error.data`; here a refusal is one warning line and no reply carries a traceback.
- `workspace/executeCommand` without `arguments`: pygls calls the command without them (InternalError);
  here InvalidParams.
- documents: pygls re-splits the whole text on every change; here `didOpen`/`didChange`/
  `didClose` go to the server's own store of line lists instead (santa_lsp/workspace.py, documents.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, RPCRequest

from santa_lsp.framing import CHUNK_BYTES, Frame, FrameReader, salvage_id, stdin_reader

if TYPE_CHECKING:
    from santa_lsp.server import SantaServer

log = logging.getLogger(__name__)

_ALWAYS_ALLOWED = {types.INITIALIZE, types.EXIT}
PREFILL = "santa/prefill"
COPIED = "santa/copied"


@attrs.define
class PrefillNotification:
    """`santa/prefill` (docs/protocol.md): the user is about to type at this position."""

    params: types.TextDocumentPositionParams
    method: str = PREFILL
    jsonrpc: str = "2.0"


@attrs.define
class CopiedParams:
    text: str


@attrs.define
class CopiedNotification:
    """`santa/copied` (docs/protocol.md): the user copied this text."""

    params: CopiedParams
    method: str = COPIED
    jsonrpc: str = "2.0"


def _structure_copied(value: Any, _: type) -> CopiedParams:
    # cattrs would make a string of anything (None, a list); only a string is copied text.
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        raise ValueError('expected {"text": string}')
    return CopiedParams(value["text"])


# This server's own methods whose params have a shape, read (and refused) like LSP's.
OWN_MESSAGE_TYPES: dict[str, type] = {PREFILL: PrefillNotification, COPIED: CopiedNotification}
# LSP methods that are notifications, and this server's: their message types have no id.
NOTIFICATIONS = frozenset(
    method
    for method, message_type in [*((m, t[0]) for m, t in types.METHOD_TO_TYPES.items()), *OWN_MESSAGE_TYPES.items()]
    if message_type is not None and "id" not in attrs.fields_dict(message_type)
)

# --- reading loops -----------------------------------------------------------------------------


async def read_loop(protocol: SantaProtocol, read: Callable[[], Awaitable[bytes]]) -> None:
    """Hand the client's messages to `protocol` until the stream ends or `exit` comes."""
    frames = FrameReader()
    while protocol.exit_code is None and (data := await read()):
        for frame in frames.feed(data):
            try:
                protocol.receive(frame)
            except BrokenPipeError:
                raise
            except Exception:  # a server bug: worth its traceback, never worth the connection
                log.exception("a message could not be handled")
            if protocol.exit_code is not None:
                return
        if frames.stray:
            log.warning("skipped %d bytes outside any message", frames.stray)
            frames.stray = 0
        await asyncio.sleep(0)  # handlers get their turn between chunks, even when the client floods


async def serve_stdio(protocol: SantaProtocol, stdin: BinaryIO) -> None:
    await read_loop(protocol, stdin_reader(stdin))


async def serve_tcp(protocol: SantaProtocol, host: str, port: int) -> None:
    """Serve the first client to connect, read as on stdio; stop when it leaves."""
    done = asyncio.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        protocol.set_writer(writer)  # type: ignore[arg-type]  # pygls writes to a StreamWriter as is
        try:
            await read_loop(protocol, lambda: reader.read(CHUNK_BYTES))
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(connection, host, port)
    log.info("listening on %s", ", ".join(str(sock.getsockname()) for sock in server.sockets))
    async with server:
        await done.wait()


# --- messages --------------------------------------------------------------------------------


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    """`value` (decoded JSON) with every lone UTF-16 surrogate replaced by U+FFFD, in place where it can be.

    JSON may escape half a surrogate pair; Python decodes that into a str no codec will encode, which then fails
    deep inside tokenizing. U+FFFD is one UTF-16 unit as well, so positions in the text do not move. Iterative:
    the value may be nested as deep as the decoder allows.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        item = stack.pop()
        if isinstance(item, dict) and any(_SURROGATE.search(key) for key in item):
            for key in [key for key in item if _SURROGATE.search(key)]:
                item[_SURROGATE.sub("\ufffd", key)] = item.pop(key)
        for key, child in list(item.items() if isinstance(item, dict) else enumerate(item)):
            if isinstance(child, str):
                item[key] = _SURROGATE.sub("\ufffd", child)
            elif isinstance(child, dict | list):
                stack.append(child)
    return value


@dataclass(frozen=True)
class Refusal:
    """A message that cannot be handled. A request gets `code`; so does a message without a usable id
    when the code is ParseError or InvalidRequest (with id null, as JSON-RPC asks)."""

    id: Any
    code: int
    reason: str


@dataclass(frozen=True)
class Ignored:
    """A message that needs no answer and does nothing: a response to a request this server never sent."""

    reason: str


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _why(exc: Exception) -> str:
    if isinstance(exc, cattrs.ClassValidationError):
        return "; ".join(cattrs.transform_error(exc)[:3])
    return f"{type(exc).__name__}: {exc}"


class SantaProtocol(LanguageServerProtocol):
    _server: SantaServer

    def __init__(self, server: SantaServer, converter: Any) -> None:
        super().__init__(server, converter)
        converter.register_structure_hook(CopiedParams, _structure_copied)
        self.initialize_seen = False
        self.exit_code: int | None = None  # set by `exit`: the read loop stops
        self._awaiting: set[Any] = set()  # ids of the requests this server sent and has no response to yet

    # --- reading -------------------------------------------------------------------------------

    def receive(self, frame: Frame) -> None:
        """Handle one frame from FrameReader."""
        if frame.problem:
            self.handle_message(Refusal(self._salvage_id(frame.body), types.ErrorCodes.ParseError, frame.problem))
            return
        try:
            data = json.loads(frame.body)
        except RecursionError:
            msg_id = self._salvage_id(frame.body)
            self.handle_message(Refusal(msg_id, types.ErrorCodes.InvalidRequest, "JSON nested too deeply"))
            return
        except ValueError as exc:  # not JSON, or not UTF-8
            # JSON-RPC answers unreadable JSON with id null; but a body followed by more than a header was cut
            # short by a wrong Content-Length, and the id at its start is the request's own.
            msg_id = self._salvage_id(frame.body) if frame.overrun else None
            self.handle_message(Refusal(msg_id, types.ErrorCodes.ParseError, f"invalid JSON: {exc}"))
            return
        if isinstance(data, dict) and "params" in data and _ESCAPED_SURROGATE.search(frame.body):
            data["params"] = without_lone_surrogates(data["params"])
        self.handle_message(self.read_message(data))

    def _salvage_id(self, body: bytes) -> int | str | None:
        msg_id = salvage_id(body)
        return None if msg_id in self._awaiting else msg_id  # never answer in place of the client

    def read_message(self, data: Any) -> Any:
        """The message that decoded JSON `data` is, or a Refusal or Ignored saying why it cannot be handled."""
        msg_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("jsonrpc") != self.VERSION:
            return Refusal(msg_id if _valid_id(msg_id) else None, types.ErrorCodes.InvalidRequest, "not JSON-RPC 2.0")
        if "method" not in data:
            return self._read_response(data)
        if "id" in data and not _valid_id(msg_id):
            reason = f"an id that is neither integer nor string: {msg_id!r:.60}"
            return Refusal(None, types.ErrorCodes.InvalidRequest, reason)
        method = data["method"]
        if not isinstance(method, str):
            return Refusal(msg_id, types.ErrorCodes.InvalidRequest, f"a method that is not a string: {method!r:.60}")
        if "id" in data and method in NOTIFICATIONS:
            return Refusal(msg_id, types.ErrorCodes.InvalidRequest, f"{method} is a notification: it takes no id")
        message_type = self.get_message_type(method) or OWN_MESSAGE_TYPES.get(method)
        if message_type is None:  # a method lsprotocol does not know: params are optional
            message_type = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            data = {"params": None, **data}
        try:
            return self._converter.structure(data, message_type)
        except RecursionError:
            return Refusal(msg_id, types.ErrorCodes.InvalidRequest, f"params of {method} nested too deeply")
        except Exception as exc:
            return Refusal(msg_id, types.ErrorCodes.InvalidParams, f"invalid params for {method}: {_why(exc)}")

    def _read_response(self, data: dict[str, Any]) -> Any:
        msg_id = data.get("id")
        if "result" not in data and "error" not in data:
            msg_id = msg_id if _valid_id(msg_id) else None
            return Refusal(msg_id, types.ErrorCodes.InvalidRequest, "neither a request, a notification nor a response")
        if not _valid_id(msg_id) or msg_id not in self._awaiting:
            return Ignored(f"a response to {msg_id!r:.60}, a request this server never sent")
        self._awaiting.discard(msg_id)
        result_type = self._result_types.pop(msg_id, None) or JsonRPCResponseMessage
        try:
            return self._converter.structure(data, types.ResponseErrorMessage if "error" in data else result_type)
        except Exception as exc:  # the request still gets its outcome: a failure, not a wait forever
            log.warning("unreadable response to %r: %s", msg_id, _why(exc))
            error = types.ResponseError(code=types.ErrorCodes.ParseError, message=f"unreadable response: {_why(exc)}")
            return types.ResponseErrorMessage(id=msg_id, error=error)

    def send_request(
        self, method: str, params: Any | None = None, callback: Callable[[Any], None] | None = None, msg_id: Any = None
    ) -> Future[Any]:
        msg_id = str(uuid.uuid4()) if msg_id is None else msg_id
        self._awaiting.add(msg_id)
        return super().send_request(method, params, callback, msg_id)

    # --- dispatch ------------------------------------------------------------------------------

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(message, Refusal):
            code = getattr(message.code, "name", message.code)
            log.warning("%s (id %r): answered %s", message.reason[:300], message.id, code)
            self._error(message.id, message.code, message.reason[:1000])
        elif isinstance(message, Ignored):
            log.warning("%s: ignored", message.reason)
        elif not self.initialize_seen and method not in _ALWAYS_ALLOWED:
            self._before_initialize(message)
        elif self._shutdown and method is not None and method != types.EXIT:
            self._after_shutdown(message)
        else:
            if method == types.INITIALIZE:
                self.initialize_seen = True
            super().handle_message(message)

    def _before_initialize(self, message: Any) -> None:
        method = getattr(message, "method", None)
        log.warning("%s received before initialize: refused", method or "a response")
        if isinstance(message, RPCRequest):
            self._error(message.id, types.ErrorCodes.ServerNotInitialized, "initialize first")

    def _after_shutdown(self, message: Any) -> None:
        log.warning("%s received after shutdown: refused", message.method)
        if isinstance(message, RPCRequest):
            self._error(message.id, types.ErrorCodes.InvalidRequest, "the server is shut down")

    def _error(self, msg_id: Any, code: int, message: str) -> None:
        # Notifications (no id) get no answer; JSON-RPC sends id null when it is unknown.
        if msg_id is not None or code in (types.ErrorCodes.ParseError, types.ErrorCodes.InvalidRequest):
            # A plain dict: pygls' converter would leave out `"id": null`, which JSON-RPC requires.
            self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    # --- answers -------------------------------------------------------------------------------

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        # In place of pygls' own: a refused request is one warning line (pygls logs a traceback at error level for
        # each), and only a server fault logs its traceback.
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            error = types.ResponseError(code=types.LSPErrorCodes.RequestCancelled, message=f"{msg_id!r} cancelled")
            self._send_response(msg_id, error=error)
        elif (exc := future.exception()) is None:
            self._send_response(msg_id, result=future.result())
        elif isinstance(exc, JsonRpcException):
            log.warning("request %r refused: %s", msg_id, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
        else:
            log.error("request %r failed", msg_id, exc_info=exc)
            message = f"internal error: {type(exc).__name__}: {exc}"
            self._send_response(msg_id, error=types.ResponseError(code=types.ErrorCodes.InternalError, message=message))

    def _send_response(self, msg_id: Any, result: Any = None, error: types.ResponseError | None = None) -> None:
        # pygls' JsonRpcInternalError puts the server's traceback in `data`; the client has no use for it.
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            error = types.ResponseError(code=error.code, message=error.message)
        super()._send_response(msg_id, result, error)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        # LSP: exit code 0 after `shutdown`, else 1. The read loop stops; the server's process ends with this code.
        self.exit_code = 0 if self._shutdown else 1

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        # pygls checks a command's arguments against its signature only when `arguments` is present; without
        # it, the command is called without them. As an empty list the check runs, and refuses (InvalidParams).
        if params.arguments is None:
            params = attrs.evolve(params, arguments=[])
        return (yield from super().lsp_workspace__execute_command(params))

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
