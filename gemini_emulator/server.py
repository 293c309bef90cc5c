"""The emulator's TLS WebSocket server (BidiGenerateContent).

It owns the sockets: the handshake (path, API key), `setup` and resumption by
handle, the records of everything received and sent, and each session's script.
What a message means for its session once read is `inbound`'s business.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loguru import logger
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import protocol as P
from .inbound import dispatch
from .model_rules import refusal
from .pings import delayed_pong_connection
from .recording import ConnectionRecord, ReceivedRecord, SentRecord
from .session import LiveSession, Script, SessionGone
from .tls import TlsMaterial, generate_tls

__all__ = ["LiveEmulator"]

INVALID_KEY_REASON = "API key not valid. Please pass a valid API key."
MISSING_KEY_REASON = (
    "Method doesn't allow unregistered callers. "
    "Please use API Key or other form of API consumer identity to call this API."
)
UNKNOWN_HANDLE_REASON = (
    "Session not found: the session resumption handle is invalid or has expired."
)
RESUME_WHILE_OPEN_REASON = (
    "The session is still active on another connection. Close it before resuming."
)


class LiveEmulator:
    """A local, protocol-faithful Gemini Live (BidiGenerateContent) server.

    ``api_keys``: accepted keys (``None``: any non-empty key).  ``script`` plays the
    model for each logical session (default :func:`~gemini_emulator.scripts.echo`).
    ``pong_delay`` (settable at runtime) delays answers to client pings.
    ``stream_rate``/``chunk_ms``/``wait_for_playback``/``reconnect_timeout`` are the
    defaults for new :class:`LiveSession` objects.  ``record_audio=False`` keeps
    audio out of ``received``/``sent``/``caller_audio()`` (memory stays flat in
    long-running, production use; byte counts are still kept).  TLS material goes to ``data_dir``
    (a temporary directory if omitted).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: set[str] | None = None,
        script: Script | None = None,
        pong_delay: float = 0.0,
        data_dir: str | Path | None = None,
        stream_rate: float = 1.5,
        chunk_ms: int = 40,
        wait_for_playback: bool = True,
        reconnect_timeout: float = 30.0,
        setup_timeout: float = 10.0,
        record_audio: bool = True,
    ) -> None:
        if script is None:
            from .scripts import echo

            script = echo
        self.host = host
        self._requested_port = port
        self.api_keys = api_keys
        self.script: Script = script
        self.pong_delay = pong_delay
        self.stream_rate = stream_rate
        self.chunk_ms = chunk_ms
        self.wait_for_playback = wait_for_playback
        self.reconnect_timeout = reconnect_timeout
        self.setup_timeout = setup_timeout
        #: Keep audio messages and caller PCM in the records (disable for long runs).
        self.record_audio = record_audio
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self.tls: TlsMaterial | None = None
        self._server: Server | None = None

        #: Everything received, in order.
        self.received: list[ReceivedRecord] = []
        self.connections: list[ConnectionRecord] = []
        self.sessions: list[LiveSession] = []
        #: Handshakes refused at the HTTP level: (path, status).
        self.rejected: list[tuple[str, int]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> LiveEmulator:
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gemini-live-emulator-")
            self._data_dir = Path(self._tmp.name)
        self.tls = generate_tls(self._data_dir)
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            ssl=self.tls.server_context(),
            process_request=self._process_request,
            create_connection=delayed_pong_connection(lambda: self.pong_delay),
            ping_interval=None,
            max_size=32 * 2**20,
            close_timeout=2,
        )
        logger.info("Gemini Live emulator listening on {}", self.base_url)
        return self

    async def stop(self) -> None:
        for s in self.sessions:
            s._end()
            if s.task is not None and not s.task.done():
                s.task.cancel()
        for c in self.connections:
            if c.open:
                try:
                    await c.close(1001, "Server shutting down.")
                except Exception:
                    pass
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = [s.task for s in self.sessions if s.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> LiveEmulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        assert self.tls is not None, "emulator not started"
        return self.tls.ca_file

    # ------------------------------------------------------------------ queries

    @property
    def setups(self) -> list[dict[str, Any]]:
        """The parsed (camelCase) setup of each connection that sent one, in order."""
        return [c.setup for c in self.connections if c.setup is not None]

    @property
    def sent(self) -> list[SentRecord]:
        """All server messages, ordered by time."""
        return sorted((m for c in self.connections for m in c.sent), key=lambda m: m.t)

    def received_of(
        self, kind: str, sub: str | None = None, *, session: str | None = None
    ) -> list[ReceivedRecord]:
        return [
            r
            for r in self.received
            if r.kind == kind
            and (sub is None or r.sub == sub)
            and (session is None or r.session == session)
        ]

    def session(self, id: str | None = None) -> LiveSession:
        """The session with ``id`` (default: the latest)."""
        if id is None:
            return self.sessions[-1]
        return next(s for s in self.sessions if s.id == id)

    def caller_audio(self, session: str | None = None) -> bytes:
        """All caller PCM (16 kHz int16) received, for one session or all."""
        return b"".join(bytes(s.caller_pcm) for s in self.sessions if session in (None, s.id))

    def function_responses(self, session: str | None = None) -> list[Any]:
        return [r for s in self.sessions if session in (None, s.id) for r in s.function_responses]

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01
    ) -> Any:
        """Poll ``predicate`` until truthy (test helper)."""
        async with asyncio.timeout(timeout):
            while not (value := predicate()):  # noqa: ASYNC110 - polling helper
                await asyncio.sleep(interval)
            return value

    # ------------------------------------------------------------------ connection handling

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if not P.BIDI_PATH_RE.match(path):
            self.rejected.append((request.path, 404))
            logger.warning("emulator: refusing {}", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    def _record(
        self, conn: ConnectionRecord, session: LiveSession | None, data: str | bytes
    ) -> P.ClientMessage:
        sid = session.id if session is not None else None
        try:
            msg = P.parse_client_message(data)
        except P.ProtocolError:
            raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            self.received.append(
                ReceivedRecord(conn.index, sid, time.monotonic(), "invalid", {}, raw)
            )
            raise
        if (
            not self.record_audio
            and msg.kind == "realtimeInput"
            and ("audio" in msg.body or "mediaChunks" in msg.body)
        ):
            return msg
        self.received.append(
            ReceivedRecord(conn.index, sid, time.monotonic(), msg.kind, msg.message, msg.raw)
        )
        return msg

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        split = urlsplit(request.path)
        query_key = parse_qs(split.query).get("key", [None])[0]
        key = request.headers.get("x-goog-api-key") or query_key
        m = P.BIDI_PATH_RE.match(split.path)
        conn = ConnectionRecord(
            index=len(self.connections),
            path=request.path,
            headers=dict(request.headers.raw_items()),
            api_key=key,
            api_version=m.group(1) if m else None,
            ws=ws,
            record_audio=self.record_audio,
        )
        self.connections.append(conn)
        session: LiveSession | None = None
        try:
            try:
                first = await asyncio.wait_for(ws.recv(), self.setup_timeout)
            except TimeoutError:
                raise P.ProtocolError(
                    P.CLOSE_INTERNAL, "Deadline expired before operation could complete."
                ) from None
            if not key:
                self._record_quietly(conn, first)
                raise P.ProtocolError(P.CLOSE_POLICY, MISSING_KEY_REASON)
            if self.api_keys is not None and key not in self.api_keys:
                self._record_quietly(conn, first)
                raise P.ProtocolError(P.CLOSE_POLICY, INVALID_KEY_REASON)
            msg = self._record(conn, None, first)
            if msg.kind != "setup":
                raise P.ProtocolError(
                    P.CLOSE_INVALID_ARGUMENT,
                    f"Invalid request: the first message must be setup, got {msg.kind}.",
                )
            session = await self._on_setup(conn, msg)
            async for data in ws:
                msg = self._record(conn, session, data)
                session.resumption.consumed(conn)  # applied at once (see `resumption.py`)
                await dispatch(session, conn, msg, record_audio=self.record_audio)
        except P.ProtocolError as e:
            logger.info("emulator: closing connection {}: {} {}", conn.index, e.code, e.reason)
            await conn.close(e.code, e.reason)
        except ConnectionClosed:
            pass
        finally:
            conn.closed_at = time.monotonic()
            if conn.closed_by is None:
                conn.closed_by = "client"
                conn.close_code = ws.close_code
                conn.close_reason = ws.close_reason
            conn.closing = True
            logger.debug(
                "emulator: connection {} closed by {} ({} {})",
                conn.index,
                conn.closed_by,
                conn.close_code,
                conn.close_reason,
            )
            if session is not None:
                session._detached()
                if not session.resumption_enabled:
                    session._end()
                    if session.task is not None:
                        session.task.cancel()

    def _record_quietly(self, conn: ConnectionRecord, data: str | bytes) -> None:
        try:
            self._record(conn, None, data)
        except P.ProtocolError:
            pass

    async def _on_setup(self, conn: ConnectionRecord, msg: P.ClientMessage) -> LiveSession:
        setup = msg.body
        conn.setup, conn.raw_setup, conn.setup_at = setup, msg.raw, time.monotonic()
        if not setup.get("model"):
            raise P.ProtocolError(
                P.CLOSE_INVALID_ARGUMENT, "Invalid request: setup.model is required."
            )
        if (refused := refusal(setup, conn.api_version)) is not None:
            raise refused  # a field the model does not take (model_rules.py)
        handle = (setup.get("sessionResumption") or {}).get("handle")
        if handle:
            found = next((s for s in self.sessions if handle in s.handles and not s.ended), None)
            if found is None:
                raise P.ProtocolError(P.CLOSE_POLICY, UNKNOWN_HANDLE_REASON)
            if found.connection is not None:
                raise P.ProtocolError(P.CLOSE_INTERNAL, RESUME_WHILE_OPEN_REASON)
            session = found
            session.setup = setup
            session.setups.append(setup)
            conn.resumed_from = handle
            session._attach(conn, handle)
            logger.info("emulator: connection {} resumed {}", conn.index, session.id)
        else:
            session = LiveSession(
                setup,
                stream_rate=self.stream_rate,
                chunk_ms=self.chunk_ms,
                wait_for_playback=self.wait_for_playback,
                reconnect_timeout=self.reconnect_timeout,
            )
            self.sessions.append(session)
            session._attach(conn, None)
            logger.info(
                "emulator: connection {} started {} ({})", conn.index, session.id, setup["model"]
            )
        # records made before the session was known
        for i in range(len(self.received) - 1, -1, -1):
            r = self.received[i]
            if r.connection == conn.index and r.session is None:
                self.received[i] = ReceivedRecord(
                    r.connection, session.id, r.t, r.kind, r.message, r.raw
                )
                break
        await conn.send(P.setup_complete())
        if session.task is None:
            session.task = asyncio.create_task(
                self._run_script(session), name=f"script-{session.id}"
            )
        await session._resumption_update(conn)
        return session

    async def _run_script(self, session: LiveSession) -> None:
        try:
            await self.script(session)
        except SessionGone as e:
            logger.info("emulator script for {} stopped: {}", session.id, e)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            session.script_error = e
            logger.exception("emulator script for {} failed", session.id)
