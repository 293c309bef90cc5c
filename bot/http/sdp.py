"""Checks on a caller's SDP offer before aiortc sees it.

aiortc answers almost any text with an empty answer; a caller (or an attacker)
should instead hear exactly what is wrong with the offer, and no call should
start for it.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription


class OfferError(ValueError):
    """The offer cannot be used; the message says why."""


VIDEO_CODECS = ("video/vp8", "video/h264")  # what aiortc decodes
SENDING = (None, "sendrecv", "sendonly")  # the caller's side sends on this stream
MAX_VIDEO_STREAMS = 2


def check_offer(sdp: str, *, video: bool = False) -> SessionDescription:
    """Parse the offer and insist on what a call needs: one audio stream we can answer,
    and video streams the bot can decode when `video` is allowed in the room."""
    if not sdp.lstrip().startswith("v=0"):
        raise OfferError("not an SDP offer (it must start with 'v=0')")
    if any(ord(ch) < 32 and ch not in "\r\n\t" for ch in sdp):
        raise OfferError("the SDP has control characters; it must be plain text lines")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as e:  # aiortc raises ValueError, KeyError, IndexError… on bad lines
        raise OfferError(f"the SDP could not be parsed ({type(e).__name__}: {e})") from e
    audio = [m for m in parsed.media if m.kind == "audio"]
    if not audio:
        raise OfferError("the offer has no audio stream: the call needs a microphone track")
    if len(audio) > 1:
        raise OfferError(f"the offer has {len(audio)} audio streams; a call takes one")
    _check_video(parsed, video)
    media = audio[0]
    if media.direction not in SENDING:
        raise OfferError(f"the audio stream is '{media.direction}': the caller must send audio")
    if not any(c.mimeType.lower() == "audio/opus" for c in media.rtp.codecs):
        raise OfferError("the audio stream does not offer Opus")
    if media.ice is None or not (media.ice.usernameFragment and media.ice.password):
        raise OfferError("the audio stream has no ICE credentials (a=ice-ufrag / a=ice-pwd)")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferError("the audio stream has no DTLS fingerprint (a=fingerprint)")
    return parsed


def _check_video(parsed: SessionDescription, allowed: bool) -> None:
    """At most two video streams (Pipecat's layout: the camera's, then the screen's).

    The page's transport always offers a sendrecv video transceiver, with or without a
    camera behind it, and SDP cannot tell the two apart: so with video off a video
    stream is not refused but ignored (Pipecat keeps its receiver disabled: its RTP is
    dropped before decoding and nothing reaches Gemini). With video on, a stream the
    caller sends must be in a codec aiortc decodes."""
    videos = [m for m in parsed.media if m.kind == "video"]
    if len(videos) > MAX_VIDEO_STREAMS:
        raise OfferError(
            f"the offer has {len(videos)} video streams; a call takes at most "
            f"{MAX_VIDEO_STREAMS} (camera and screen)"
        )
    for media in videos:
        if not allowed or media.port == 0 or media.direction not in SENDING:
            continue
        if not any(c.mimeType.lower() in VIDEO_CODECS for c in media.rtp.codecs):
            raise OfferError("the video stream offers neither VP8 nor H264")
