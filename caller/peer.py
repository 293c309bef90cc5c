"""A headless WebRTC caller (aiortc) for livebot's SmallWebRTC endpoint.

It does what the browser client does, without a browser:

* offers one audio transceiver (``sendrecv``, index 0: Pipecat's SmallWebRTCConnection
  reads the caller's mic from transceiver 0 and puts the bot's voice on its sender), and a
  data channel, which the server only listens for (RTVI messages travel on it);
* ``POST {base}/api/offer`` with ``{"sdp", "type": "offer"}`` (+ ``request_data``); aiortc
  gathers every ICE candidate before the offer is sent, so no trickle (``PATCH``) is needed;
* sends the RTVI ``client-ready`` message once the data channel is open (the prebuilt
  client does; the bot answers ``bot-ready``);
* sends 20 ms frames of silence, or of queued speech, paced in real time (Opus by aiortc);
* decodes the bot's audio and keeps it as mono 16-bit PCM with per-frame receive times.

Unlike the JS client it sends no ``ping`` keep-alives (the server then trusts the ICE
state), offers video only with ``video=True`` and ignores the server's renegotiation
requests (they are only about video).

CLI: ``python -m caller http://localhost:7860 --wav in.wav --out reply.wav --seconds 10``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from loguru import logger

from caller.audio import (
    DEFAULT_SILENCE_RMS,
    RTVI_LABEL,
    RTVI_PROTOCOL_VERSION,
    SEND_RATE,
    OutgoingAudio,
    ReceivedFrame,
    pcm_rms,
    read_wav_mono,
    resample,
    to_mono_s16,
    write_wav,
)
from caller.signalling import join_room, post_offer

IceServers = Sequence[str | RTCIceServer] | None


class Caller:
    """A headless caller: ``async with Caller(url) as c: await c.connect(); ...``.

    Attributes:
        received_frames: decoded bot audio frames (mono int16, receive timestamps), in order.
        data_messages: JSON messages received on the data channel (RTVI), in order.
        pc_id: the server's peer-connection id, after ``connect()``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        offer_path: str = "/api/offer",
        request_data: dict[str, Any] | None = None,
        ice_servers: IceServers = None,
        client_ready: bool = True,
        video: bool = False,
        camera: Any = None,
        rejoin: str | None = None,
    ) -> None:
        """
        Args:
            base_url: the bot server, e.g. ``http://localhost:7860``.
            offer_path: path of the SDP offer endpoint.
            request_data: sent with the offer as ``request_data`` (the bot sees it).
            ice_servers: STUN/TURN URLs or ``RTCIceServer``s; none by default (host
                candidates only; aiortc would otherwise try a public STUN server).
            client_ready: send RTVI ``client-ready`` once the data channel opens.
            video: also offer a receive-only video transceiver (index 1), as browsers do.
            camera: a video track to send (e.g. `caller.video.ColourCamera`), index 1.
            rejoin: the rejoin secret of a call this caller left (`rejoin_secret()` of
                that call's caller): the join comes back to it.
        """
        link = urllib.parse.urlsplit(base_url)
        query = urllib.parse.parse_qs(link.query)
        #: The room link's token, when `base_url` is a room link (`…/r/<room>?t=…`).
        self.link_token: str | None = query.get("t", [None])[0] if "/r/" in link.path else None
        self.base_url = (
            f"{link.scheme}://{link.netloc}" if self.link_token else base_url.rstrip("/")
        )
        #: The join answer (room, ticket, ICE servers, mode) after `connect()`.
        self.joined: dict[str, Any] | None = None
        self.offer_path = offer_path
        self.request_data = request_data
        self.client_ready = client_ready
        self.video = video
        self.camera = camera
        self.rejoin = rejoin
        self.ice_servers = [
            s if isinstance(s, RTCIceServer) else RTCIceServer(urls=s) for s in ice_servers or []
        ]
        self.pc: RTCPeerConnection | None = None
        self.pc_id: str | None = None
        self.received_frames: list[ReceivedFrame] = []
        self.data_messages: list[Any] = []
        self._out = OutgoingAudio()
        self._dc: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._audio_track = asyncio.Event()
        self._dc_open = asyncio.Event()
        self._connected = asyncio.Event()
        self._failed = asyncio.Event()
        self._changed = asyncio.Event()  # set on every frame or message
        self._closed = False

    async def __aenter__(self) -> Caller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ connect

    async def connect(self, timeout: float = 10) -> None:
        """Offer/answer; return once ICE+DTLS are connected, the bot's audio track has
        arrived and the data channel is open. Raises ``CallerError`` (HTTP error),
        ``TimeoutError``, or ``ConnectionError`` (ICE/DTLS failed)."""
        if self.pc is not None:
            raise RuntimeError("connect() was already called")
        if self.link_token and self.joined is None:
            self.joined = await self.join()
        pc = self._new_pc()
        try:
            async with asyncio.timeout(timeout):
                await pc.setLocalDescription(await pc.createOffer())  # gathers ICE
                body: dict[str, Any] = {"sdp": pc.localDescription.sdp, "type": "offer"}
                if self.request_data is not None:
                    body["request_data"] = self.request_data
                answer = await self._post_offer(body)
                self.pc_id = answer.get("pc_id")
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
                )
                await self._wait_connected()
        except TimeoutError:
            state = f"connection={pc.connectionState} ice={pc.iceConnectionState}"
            got = f"audio track={self._audio_track.is_set()} data channel={self._dc_open.is_set()}"
            await self.close()
            raise TimeoutError(f"call not up within {timeout}s ({state}; {got})") from None
        except BaseException:
            await self.close()
            raise
        logger.info(f"caller connected to {self.base_url} (pc_id={self.pc_id})")
        if self.client_ready:
            await self.send_data(self._client_ready_message())

    def _new_pc(self) -> RTCPeerConnection:
        """This call's peer connection, as the page makes it: audio both ways, video in
        if asked, the RTVI data channel."""
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        self._setup_pc(pc)
        pc.addTransceiver(self._out, direction="sendrecv")
        if self.camera is not None:
            pc.addTransceiver(self.camera, direction="sendrecv")
        elif self.video:
            pc.addTransceiver("video", direction="recvonly")
        self._dc = pc.createDataChannel("rtvi", ordered=True)
        self._setup_dc(self._dc)
        return pc

    async def renegotiate(self, *, restart: bool = False, timeout: float = 10) -> None:
        """Offer again on this call, as the page does: a plain renegotiation of the same
        peer connection, or (``restart=True``, what the page does after an ICE failure)
        a new peer connection offered with ``restart_pc`` and the old one closed. Returns
        once the call is up again; ``pc_id`` is then the server's new id."""
        if self.pc is None or self.pc_id is None:
            raise RuntimeError("connect() first")
        old = self.pc
        if restart:
            # The bot closes the old connection at once; its sender would then stop the
            # track they share (aiortc stops a sender's track when it ends).
            for transceiver in old.getTransceivers():
                transceiver.sender.replaceTrack(None)
            for event in (self._connected, self._audio_track, self._dc_open, self._failed):
                event.clear()
            self._new_pc()
        async with asyncio.timeout(timeout):
            await self.pc.setLocalDescription(await self.pc.createOffer())
            body: dict[str, Any] = {
                "sdp": self.pc.localDescription.sdp,
                "type": "offer",
                "pc_id": self.pc_id,
            }
            if restart:
                body["restart_pc"] = True
            answer = await self._post_offer(body)
            self.pc_id = answer.get("pc_id")
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
            )
            if restart:
                await old.close()
                await self._wait_connected()
        logger.info(f"caller renegotiated (restart={restart}, pc_id={self.pc_id})")

    async def _wait_connected(self) -> None:
        for event in (self._connected, self._audio_track, self._dc_open):
            waiter = asyncio.ensure_future(event.wait())
            failed = asyncio.ensure_future(self._failed.wait())
            done, pending = await asyncio.wait(
                {waiter, failed}, return_when=asyncio.FIRST_COMPLETED
            )
            for p in pending:
                p.cancel()
            if failed in done:
                raise ConnectionError(
                    f"peer connection failed ({self.pc and self.pc.connectionState})"
                )

    async def join(self) -> dict[str, Any]:
        """Exchange the room link for a call ticket (`POST /api/join`)."""
        return await join_room(self.base_url, self.link_token, self._ticket(), self.rejoin)

    def rejoin_secret(self) -> str | None:
        """The rejoin secret the bot gave this call (in its session message), if any."""
        for m in self.data_messages:
            data = m.get("data") if isinstance(m, dict) else None
            if isinstance(data, dict) and data.get("type") == "session":
                return (data.get("rejoin") or {}).get("secret")
        return None

    async def _post_offer(self, body: dict[str, Any]) -> dict[str, Any]:
        return await post_offer(self.base_url + self.offer_path, body, self._ticket())

    def _ticket(self) -> str | None:
        return self.joined["ticket"] if self.joined else None

    def _setup_pc(self, pc: RTCPeerConnection) -> None:
        @pc.on("connectionstatechange")
        async def on_state() -> None:
            logger.debug(f"caller: connection state {pc.connectionState}")
            if pc is not self.pc:  # an old connection, replaced by an ICE restart
                return
            if pc.connectionState == "connected":
                self._connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self._failed.set()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            logger.debug(f"caller: remote {track.kind} track")
            if track.kind == "audio" and not self._audio_track.is_set():
                self._audio_track.set()
                self._tasks.append(asyncio.create_task(self._read_audio(track)))
            else:
                self._tasks.append(asyncio.create_task(self._drain(track)))

    def _setup_dc(self, dc: Any) -> None:
        @dc.on("open")
        def on_open() -> None:
            logger.debug("caller: data channel open")
            self._dc_open.set()

        @dc.on("message")
        def on_message(message: str | bytes) -> None:
            try:
                obj = json.loads(message)
            except ValueError:
                logger.debug(f"caller: non-JSON data message {message!r:.200}")
                return
            if isinstance(obj, dict) and obj.get("type") == "signalling":
                logger.debug(f"caller: ignoring signalling message {obj.get('message')}")
            self.data_messages.append(obj)
            self._changed.set()

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):  # an audio track yields audio frames
                continue
            pcm = to_mono_s16(frame)
            self.received_frames.append(
                ReceivedFrame(time.monotonic(), pcm, frame.sample_rate, pcm_rms(pcm))
            )
            self._changed.set()

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    # -------------------------------------------------------------------- audio out

    async def play(self, pcm: bytes, sample_rate: int) -> None:
        """Queue caller speech (mono int16 PCM at ``sample_rate``); it is sent after
        whatever is already queued. Returns at once: see ``wait_played()``."""
        self._out.enqueue(resample(pcm, sample_rate, self._out.rate))

    async def play_wav(self, path: str | Path) -> None:
        """Queue a 16-bit WAV file (channels are averaged to mono)."""
        await self.play(*read_wav_mono(path))

    async def wait_played(self, timeout: float | None = None) -> None:
        """Wait until all queued audio has been handed to the encoder."""
        async with asyncio.timeout(timeout):
            await self._out.wait_drained()

    @property
    def played_until(self) -> float | None:
        """``time.monotonic()`` at which the last queued audio finished sending."""
        return self._out.played_until

    # --------------------------------------------------------------------- audio in

    @property
    def received(self) -> bytes:
        """All bot audio so far, mono int16 at ``received_rate``."""
        return b"".join(f.pcm for f in self.received_frames)

    @property
    def received_rate(self) -> int:
        """Sample rate of ``received`` (48000 with Opus)."""
        return self.received_frames[0].sample_rate if self.received_frames else SEND_RATE

    def received_seconds(self, threshold_rms: float = DEFAULT_SILENCE_RMS) -> float:
        """Seconds of non-silent bot audio (frames whose RMS exceeds ``threshold_rms``)."""
        return sum(f.seconds for f in self.received_frames if f.rms > threshold_rms)

    def first_audio_at(
        self, after: float = 0.0, threshold_rms: float = DEFAULT_SILENCE_RMS
    ) -> float | None:
        """``time.monotonic()`` of the first non-silent frame received after ``after``."""
        return next(
            (f.time for f in self.received_frames if f.time > after and f.rms > threshold_rms),
            None,
        )

    async def wait_for_audio(
        self, seconds: float, timeout: float, threshold_rms: float = DEFAULT_SILENCE_RMS
    ) -> None:
        """Wait until ``seconds`` of non-silent bot audio have arrived in all."""
        await self.wait_until(
            lambda: self.received_seconds(threshold_rms) >= seconds,
            timeout,
            lambda: f"{self.received_seconds(threshold_rms):.2f}s of {seconds}s of bot audio",
        )

    def save_wav(self, path: str | Path) -> Path:
        """Write the received bot audio to a mono 16-bit WAV."""
        return write_wav(path, self.received, self.received_rate)

    # ----------------------------------------------------------------- data channel

    async def send_data(self, obj: Any) -> None:
        """Send ``obj`` as JSON on the data channel (after ``connect()``)."""
        if self._dc is None or self._dc.readyState != "open":
            raise RuntimeError("data channel is not open")
        self._dc.send(json.dumps(obj))

    async def send_text(self, text: str) -> None:
        """Type to the bot, as the page's text box does (an RTVI ``send-text`` message)."""
        await self.send_data(
            {
                "label": RTVI_LABEL,
                "type": "send-text",
                "id": uuid.uuid4().hex[:8],
                "data": {"content": text, "options": {}},
            }
        )

    async def wait_for_message(self, match: str | Callable[[Any], bool], timeout: float) -> Any:
        """The first data message (already received or arriving within ``timeout``) whose
        ``type`` equals ``match``, or for which ``match(message)`` is true."""

        def matches(m: Any) -> bool:
            if callable(match):
                return bool(match(m))
            return isinstance(m, dict) and m.get("type") == match

        found: list[Any] = []

        def check() -> bool:
            found[:] = [m for m in self.data_messages if matches(m)][:1]
            return bool(found)

        await self.wait_until(check, timeout, lambda: f"no message matching {match!r}")
        return found[0]

    def _client_ready_message(self) -> dict[str, Any]:
        return {
            "label": RTVI_LABEL,
            "type": "client-ready",
            "id": uuid.uuid4().hex[:8],
            "data": {
                "version": RTVI_PROTOCOL_VERSION,
                "about": {"library": "livecaller", "platform": "aiortc"},
            },
        }

    async def wait_until(
        self, done: Callable[[], bool], timeout: float, what: Callable[[], str] | None = None
    ) -> None:
        """Wait until ``done()`` is true; it is re-checked on every received audio frame
        and data message. ``what()`` describes the wait in the ``TimeoutError``."""
        describe = what or (lambda: "condition not met")
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._changed.clear()
                    if done():
                        return
                    if self._closed:
                        raise ConnectionError(f"caller closed while waiting: {describe()}")
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s: {describe()}") from None

    # ------------------------------------------------------------------------ close

    async def close(self) -> None:
        """Hang up (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._changed.set()
        self._out.stop()
        if self.pc is not None:
            await self.pc.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
