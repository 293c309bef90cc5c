"""Test helpers: run the Live stage or the whole bot against the Live emulator, fault a network.

Not part of the product: nothing in ``bot/`` or ``tools/`` imports it. Tool developers
use :mod:`testkit.tools` (``call_like_the_model``); livebot's own tests use the rest.
"""
