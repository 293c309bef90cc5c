"""`python -m bench`: livebot and the stock-Pipecat anchor, same emulator and callers.

uv run python -m bench                # the full run (~8 min): table + plot in bench/results/
uv run python -m bench --quick        # fewer markers and capacity steps (~3 min)
uv run python -m bench --soak         # one 5-minute call at 2 % loss (livebot), then stop
uv run python -m bench --only livebot # one bot (no ratios)
uv run python -m bench --video        # livebot's calls without and with a camera (~3 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger

from bench import report
from bench.run import run_kind, soak, workdir

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer markers and capacity steps")
    p.add_argument("--only", choices=["livebot", "anchor"])
    p.add_argument("--calls", type=int, default=2, help="calls for the latency figures")
    p.add_argument("--steps", default="1,2,3,4,6,8,12,16,24,32", help="capacity steps (calls)")
    p.add_argument("--markers", type=int, default=25, help="markers each way per phase")
    p.add_argument("--soak", action="store_true", help="only the 5-minute 2 %% loss call")
    p.add_argument("--video", action="store_true", help="livebot audio only vs camera on")
    p.add_argument("--soak-minutes", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{time:HH:mm:ss} {message}")
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = [args.only] if args.only else ["livebot", "anchor"]
    started = time.monotonic()
    work = workdir()
    logger.info(f"bench: work directory {work}")

    if args.soak:
        results = {}
        for kind in [args.only or "livebot"]:
            results[kind] = asyncio.run(soak(kind, work, args.soak_minutes, 0.02))
        (args.out / "soak.json").write_text(json.dumps(results, indent=1))
        lines = [
            "| minute | uplink p50 | uplink p95 | downlink p95 | delivered | markers up |",
            "| ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in results.values():
            for s in r["minutes"]:
                lines.append(
                    f"| {s['t_min']:.1f} | {report._f(s['up_p50'])} | {report._f(s['up_p95'])} | "
                    f"{report._f(s['down_p95'])} | {report._f(s['delivered'], 3)} | {s['up_markers']} |"
                )
        text = (
            f"# Soak: {args.only or 'livebot'}, one call, 2 % loss, {args.soak_minutes:g} min\n\n"
            + "\n".join(lines)
            + "\n"
        )
        (args.out / "soak.md").write_text(text)
        print(text)
        return 0

    markers = 12 if args.quick else args.markers
    if args.video:
        return video(args, work, markers, started)
    steps = [int(s) for s in args.steps.split(",") if s]
    if args.quick:
        steps = steps[:3]
    results = {}
    for kind in kinds:
        results[kind] = asyncio.run(
            run_kind(
                kind,
                work,
                markers=markers,
                steps=steps,
                losses=(0.02, 0.05),
                base_calls=args.calls,
            )
        )
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "base_calls": args.calls,
        "markers": markers,
        "steps": ", ".join(map(str, steps)),
        "seconds": time.monotonic() - started,
    }
    live = results.get("livebot", {"kind": "livebot"})
    anchor = results.get("anchor", {"kind": "anchor"})
    text = report.markdown(live, anchor, meta)
    (args.out / "results.md").write_text(text)
    report.plot(live, anchor, args.out / "latency.png")
    print(text)
    return 0


def video(args: argparse.Namespace, work: Path, markers: int, started: float) -> int:
    """Audio only and camera on, the same calls and phases each: results/video-latency.md."""
    runs = {}
    for kind in ("livebot", "livebot-video"):
        runs[kind] = asyncio.run(
            run_kind(kind, work, markers=markers, steps=[], losses=(), base_calls=args.calls)
        )
    (args.out / "video-latency.json").write_text(json.dumps(runs, indent=1))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"# Caller video: what a camera adds to a call\n\n`python -m bench "
        f"{' '.join(sys.argv[1:])}`, {when}, {time.monotonic() - started:.0f} s; "
        f"{args.calls} calls each, {markers} markers each way per phase; each caller sends "
        "a 640x480 30 fps camera whose picture changes every frame (LIVE_VIDEO=camera, "
        "LIVE_VIDEO_FPS=1): the bot decodes it, samples, scales and encodes one JPEG a "
        "second into the Live session.\n\n"
        + report.video_table(runs["livebot"], runs["livebot-video"])
        + "\n"
    )
    (args.out / "video-latency.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
