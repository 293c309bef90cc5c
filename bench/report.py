"""The results table (Markdown), the latency plot (PNG) and the machine's description."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("pipecat-ai", "aiortc", "av", "google-genai", "numpy", "soxr", "websockets")


def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions = []
    for p in PACKAGES:
        try:
            versions.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kib / 2**20:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(versions),
    }


def _f(v: Any, digits: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _ratio(a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return "–"
    return f"{a / b:.2f}"


ROWS: list[tuple[str, str, str, int]] = [
    # (label, section, key, digits)
    ("uplink added latency p50 (ms)", "main", "up_p50", 0),
    ("uplink added latency p95 (ms)", "main", "up_p95", 0),
    ("uplink added latency p99 (ms)", "main", "up_p99", 0),
    ("downlink added latency p50 (ms)", "main", "down_p50", 0),
    ("downlink added latency p95 (ms)", "main", "down_p95", 0),
    ("downlink added latency p99 (ms)", "main", "down_p99", 0),
    ("uplink frames delivered / received", "main", "delivered", 3),
    ("barge-in: interrupted → caller silent p50 (ms)", "main", "barge_p50", 0),
    ("barge-in p95 (ms)", "main", "barge_p95", 0),
    ("tool: toolCall → toolResponse p50 (ms)", "main", "tool_p50", 1),
    ("tool p95 (ms)", "main", "tool_p95", 1),
    ("CPU per call (ms CPU per call-second)", "main", "cpu_ms_per_call_s", 0),
    ("memory per call (MiB RSS)", "main", "rss_mib_per_call", 1),
    ("uplink p50 at 2 % loss (ms)", "loss_2", "up_p50", 0),
    ("uplink p95 at 2 % loss (ms)", "loss_2", "up_p95", 0),
    ("downlink p95 at 2 % loss (ms)", "loss_2", "down_p95", 0),
    ("uplink frames delivered / received, 2 % loss", "loss_2", "delivered", 3),
    ("uplink markers heard, 2 % loss", "loss_2", "up_markers", 0),
    ("uplink p50 at 5 % loss (ms)", "loss_5", "up_p50", 0),
    ("uplink p95 at 5 % loss (ms)", "loss_5", "up_p95", 0),
    ("downlink p95 at 5 % loss (ms)", "loss_5", "down_p95", 0),
    ("uplink frames delivered / received, 5 % loss", "loss_5", "delivered", 3),
    ("uplink markers heard, 5 % loss", "loss_5", "up_markers", 0),
]


def video_table(audio: dict[str, Any], video: dict[str, Any]) -> str:
    """The same calls with and without a camera each: what video adds (`--video`)."""
    lines = [
        "| figure | audio only | camera on (1 fps to Live) | camera / audio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, section, key, digits in ROWS:
        if section != "main":
            continue
        a = (audio.get(section) or {}).get(key)
        b = (video.get(section) or {}).get(key)
        lines.append(f"| {label} | {_f(a, digits)} | {_f(b, digits)} | {_ratio(b, a)} |")
    return "\n".join(lines)


def table(live: dict[str, Any], anchor: dict[str, Any]) -> str:
    lines = [
        "| figure | livebot | anchor (stock Pipecat) | livebot / anchor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, section, key, digits in ROWS:
        a = (live.get(section) or {}).get(key)
        b = (anchor.get(section) or {}).get(key)
        lines.append(f"| {label} | {_f(a, digits)} | {_f(b, digits)} | {_ratio(a, b)} |")
    a, b = live.get("capacity"), anchor.get("capacity")
    lines.append(
        f"| capacity: calls with p99 ≤ 50 ms each way, no lost frames | {a}"
        f"{'+' if live.get('capacity_note') else ''} | {b}"
        f"{'+' if anchor.get('capacity_note') else ''} | {_ratio(a, b)} |"
    )
    return "\n".join(lines)


def steps_table(result: dict[str, Any]) -> str:
    lines = [
        f"**{result['kind']}** capacity steps:",
        "",
        "| calls | up p99 (ms) | down p99 (ms) | markers up / down | delivered | CPU ms/call-s | load generator CPU | pass |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for s in result.get("capacity_steps", []):
        if "error" in s:
            lines.append(f"| {s['calls']} | dial failed: {s['error'][:60]} | | | | | | no |")
            continue
        lines.append(
            f"| {s['calls']} | {_f(s['up_p99'])} | {_f(s['down_p99'])} | {s['up_markers']} / "
            f"{s['down_markers']} | {_f(s['delivered'], 3)} | {_f(s['cpu_ms_per_call_s'])} | "
            f"{_f(s['loadgen_cpu'], 2)} | {'yes' if s['pass'] else 'no'} |"
        )
    return "\n".join(lines)


def markdown(live: dict[str, Any], anchor: dict[str, Any], meta: dict[str, Any]) -> str:
    m = machine()
    return "\n".join(
        [
            f"# Benchmark: livebot vs stock Pipecat ({meta['when']})",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, {m['os']}, "
            f"Python {m['python']}; {m['packages']}.",
            "",
            f"Run: `{meta['command']}` — {meta['base_calls']} simultaneous calls for the "
            f"latency, barge-in, tool, CPU and loss figures ({meta['markers']} markers each "
            f"way per call and scenario); capacity steps {meta['steps']}. Loss is in-process "
            "on the caller's side (both directions, independent drops). Took "
            f"{meta['seconds']:.0f} s.",
            "",
            table(live, anchor),
            "",
            steps_table(live),
            "",
            steps_table(anchor),
            "",
            "![latency](latency.png)",
            "",
        ]
    )


def plot(live: dict[str, Any], anchor: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    for ax, direction in zip(axes, ("up", "down"), strict=True):
        for result, color in ((live, "tab:blue"), (anchor, "tab:orange")):
            for section, style in (("main", "-"), ("loss_2", "--"), ("loss_5", ":")):
                raw = result.get(f"{section}_raw", {}).get(f"{direction}_ms") or []
                if not raw:
                    continue
                xs = np.sort(raw)
                ys = np.arange(1, xs.size + 1) / xs.size
                loss = {"main": "0 %", "loss_2": "2 %", "loss_5": "5 %"}[section]
                ax.step(
                    xs, ys, style, color=color, where="post", label=f"{result['kind']}, {loss} loss"
                )
        ax.axvline(30, color="grey", lw=0.8)
        ax.axvline(60, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ticks = [10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("added latency (ms, log)")
        ax.set_title(
            f"{'uplink: caller → Gemini' if direction == 'up' else 'downlink: Gemini → caller'}"
        )
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("fraction of markers")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Added latency per marker (CDF); grey lines: 30 ms and 60 ms targets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
