"""The call's audio formats: one definition (bot/media/formats.py)."""

from bot.media.formats import BOT_AUDIO, CALLER_AUDIO, pcm_mime_type


def test_gemini_takes_16_khz_and_speaks_24_khz():
    assert CALLER_AUDIO.rate == 16_000 and BOT_AUDIO.rate == 24_000
    assert CALLER_AUDIO.bytes_per_second == 32_000
    assert CALLER_AUDIO.mime_type == pcm_mime_type(16_000) == "audio/pcm;rate=16000"


def test_bytes_and_seconds_round_trip_in_whole_samples():
    assert CALLER_AUDIO.nbytes(0.020) == 640
    assert CALLER_AUDIO.seconds(640) == 0.020
    assert CALLER_AUDIO.nbytes(0.00003) == 0  # less than one sample
    assert BOT_AUDIO.seconds(48_000) == 1.0
