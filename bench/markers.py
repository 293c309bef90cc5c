"""Marked test audio: short tone bursts in silence, and a detector for them.

Each marker is a 30 ms Hann-windowed tone whose frequency (one of `FREQS`) names it,
so a detected burst is matched to the marker it came from by frequency and time, not by
position in the stream (positions shift when frames are lost or concealed). The same
detector runs on the source and the destination signal, so its own onset offset cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FREQS = (600.0, 900.0, 1200.0, 1500.0, 1800.0, 2100.0, 2400.0, 2700.0)
BURST_SECONDS = 0.03
LEVEL = 10000.0  # peak, int16 units (about -10 dBFS)


@dataclass(frozen=True)
class Marker:
    index: int
    freq: float
    sample: int  # onset (as detected) in the signal's samples


def marker_train(
    rate: int, count: int, spacing: float, lead: float = 0.2, tail: float = 0.3
) -> tuple[bytes, list[int]]:
    """`count` bursts `spacing` seconds apart after `lead` seconds of silence.

    Returns mono int16 PCM and the start sample of each burst. Starts are multiples
    of 20 ms (a frame/chunk boundary at both ends), as `spacing` and `lead` should be.
    """
    n_burst = round(BURST_SECONDS * rate)
    t = np.arange(n_burst) / rate
    window = np.hanning(n_burst)
    total = round((lead + count * spacing + tail) * rate)
    out = np.zeros(total, dtype=np.float64)
    starts = []
    for i in range(count):
        start = round((lead + i * spacing) * rate)
        out[start : start + n_burst] = (
            LEVEL * window * np.sin(2 * np.pi * FREQS[i % len(FREQS)] * t)
        )
        starts.append(start)
    return np.round(out).astype("<i2").tobytes(), starts


def detect(pcm: bytes | np.ndarray, rate: int, threshold: float = 0.3 * LEVEL) -> list[Marker]:
    """Bursts in `pcm`: onset = first sample whose 1 ms peak envelope crosses
    `threshold` after at least 100 ms below it; identity = the nearest of `FREQS` to the
    spectral peak of the 30 ms from the onset."""
    x = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
    x = x.astype(np.float64)
    if x.size == 0:
        return []
    hop = max(1, rate // 1000)
    n = x.size // hop
    env = np.abs(x[: n * hop]).reshape(n, hop).max(axis=1)
    above = np.flatnonzero(env > threshold)
    found: list[Marker] = []
    last = -(10**9)
    n_fft = round(BURST_SECONDS * rate)
    freqs = np.fft.rfftfreq(4 * n_fft, 1 / rate)
    for h in above:
        if h - last <= 100:  # same burst (or its concealment tail)
            last = h
            continue
        last = h
        seg = x[h * hop : h * hop + n_fft]
        start = h * hop + int(np.argmax(np.abs(seg[:hop]) > threshold))
        if seg.size < n_fft // 2:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 4 * n_fft))
        peak = freqs[int(np.argmax(spec))]
        idx = int(np.argmin([abs(peak - f) for f in FREQS]))
        if abs(FREQS[idx] - peak) > 120:
            continue  # not one of ours (codec artefact)
        found.append(Marker(index=-1, freq=FREQS[idx], sample=start))
    return found
