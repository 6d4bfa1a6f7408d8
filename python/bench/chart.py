"""docs/bench/chart.png from the results of a run (see run.py), drawn with matplotlib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.analysis import per_round, spread
from bench.report import SERVER_LABELS, rounds_text, stack_label

OURS, OTHERS = "#c2410c", "#64748b"
COLOURS = {
    "ours": OURS,
    "empty": "#0f766e",
    "empty-tuned": "#5eead4",
    "notes": "#6366f1",
    "notes-aio": "#a855f7",
}


def _summary(values: list[float | None]) -> tuple[float, float, float]:
    """Median and the distances down to the lowest and up to the highest round (0s if none)."""
    summary = spread(values)
    if summary is None:
        return 0.0, 0.0, 0.0
    return summary.median, summary.median - summary.low, summary.high - summary.median


def _empty(axes: Axes, title: str) -> None:
    axes.set_title(title)
    axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes)
    axes.set_axis_off()


def _grpc(
    axes: Axes, results: dict[str, Any], field: str, title: str, unit: str, log: bool
) -> None:
    def label(value: float) -> str:
        return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.3g}"

    grpc = results["grpc"]
    concurrencies = results["settings"]["concurrencies"]
    servers = [key for key in SERVER_LABELS if any(row["server"] == key for row in grpc)]
    if not servers:
        _empty(axes, title)
        return
    width = 0.8 / len(servers)
    for index, server in enumerate(servers):
        medians, lows, highs = zip(
            *(
                _summary(per_round(grpc, field, server=server, concurrency=c))
                for c in concurrencies
            ),
            strict=True,
        )
        positions = [c + (index - (len(servers) - 1) / 2) * width for c in range(len(medians))]
        bars = axes.bar(
            positions,
            medians,
            width,
            yerr=[lows, highs],
            capsize=2,
            label=SERVER_LABELS[server],
            color=COLOURS.get(server, OTHERS),
        )
        axes.bar_label(bars, fmt=label, fontsize=6, padding=1)
    axes.set_xticks(range(len(concurrencies)), [f"c={c}" for c in concurrencies])
    if log:
        axes.set_yscale("log")
    axes.set_ylabel(unit)
    axes.set_title(title)


def _homepage(axes: Axes, results: dict[str, Any]) -> None:
    homepage = results["homepage"]
    title = "Homepage GET /: pages per second (higher is better)"
    stacks = list(dict.fromkeys(row["stack"] for row in homepage))
    if not stacks:
        _empty(axes, title)
        return
    medians, lows, highs = zip(
        *(_summary(per_round(homepage, "pages_per_second", stack=stack)) for stack in stacks),
        strict=True,
    )
    colours = [OURS if stack.startswith("axum") else OTHERS for stack in stacks]
    bars = axes.barh(range(len(stacks)), medians, xerr=[lows, highs], capsize=2, color=colours)
    axes.bar_label(bars, fmt="%.0f", fontsize=7, padding=6)
    axes.set_yticks(range(len(stacks)), [stack_label(stack) for stack in stacks], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("pages/s")
    axes.set_title(title)


def _scale(axes: Axes, results: dict[str, Any]) -> None:
    scale = results["scale"]
    title = "Ours: server CPU per call as the catalogue grows"
    sizes = sorted({row["books"] for row in scale})
    if not sizes:
        _empty(axes, title)
        return
    medians, lows, highs = zip(
        *(_summary(per_round(scale, "cpu_us_per_call", books=b)) for b in sizes),
        strict=True,
    )
    axes.errorbar(sizes, medians, yerr=[lows, highs], marker="o", color=OURS, capsize=3)
    axes.axhline(medians[0] * 1.5, color=OTHERS, linestyle="--", linewidth=1)
    axes.text(
        sizes[0],
        medians[0] * 1.5,
        " target: 1.5x the cost at 9 books",
        fontsize=7,
        va="bottom",
        color=OTHERS,
    )
    axes.set_xscale("log")
    axes.set_ylim(0, max(medians) * 2)
    axes.set_xlabel("books in the catalogue (log scale)")
    axes.set_ylabel("µs of server CPU per call")
    axes.set_title(title)


def draw(results: dict[str, Any], path: Path) -> None:
    figure, ((cpu, rate), (home, scale)) = plt.subplots(2, 2, figsize=(14, 9), layout="constrained")
    _grpc(
        cpu,
        results,
        "cpu_us_per_call",
        "gRPC: server CPU per call (lower is better)",
        "µs (log scale)",
        log=True,
    )
    _grpc(rate, results, "requests_per_second", "gRPC: requests per second", "calls/s", log=False)
    handles, labels = cpu.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    _homepage(home, results)
    _scale(scale, results)
    machine, settings = results["machine"], results["settings"]
    figure.suptitle(
        f"just bench: {machine['cpu']}, {machine['cores']} cores; server on one core, load on "
        f"the other; medians of {rounds_text(settings)}, whiskers from lowest to highest",
        fontsize=11,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
