"""Run the emulator standalone: ``python -m gemini_emulator --port 0 --script echo``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .scripts import SCRIPTS
from .server import LiveEmulator
from .tls import write_ca_bundle


async def _main(args: argparse.Namespace) -> None:
    keys = set(args.api_key) if args.api_key else None
    emulator = LiveEmulator(
        args.host,
        args.port,
        api_keys=keys,
        script=SCRIPTS[args.script],
        pong_delay=args.pong_delay,
        data_dir=args.data_dir,
    )
    async with emulator:
        bundle = write_ca_bundle(emulator.ca_file, emulator.ca_file.parent / "ca-bundle.pem")
        print(f"GOOGLE_GEMINI_BASE_URL={emulator.base_url}", flush=True)
        print(f"EMULATOR_CA_FILE={emulator.ca_file}", flush=True)
        print(f"SSL_CERT_FILE={bundle}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gemini_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--script", choices=sorted(SCRIPTS), default="echo")
    p.add_argument("--api-key", action="append", help="accepted key (repeatable; default: any)")
    p.add_argument("--pong-delay", type=float, default=0.0)
    p.add_argument("--data-dir", type=Path, default=None, help="where to write the CA/cert")
    args = p.parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
