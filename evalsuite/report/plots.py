"""The report's figures, each PNG bytes (matplotlib, Agg backend), drawn only where they carry
information: no panel with fewer than two values, no single-point line, an axis labelled with
the metric it shows (AP never on an accuracy axis: one panel per task), error bars (± std)
wherever a value averages several seeds."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on CI machines; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evalsuite.report.tables import Summary  # noqa: E402

DPI = 100
#: Figures are at most this wide (inches at DPI): 1,200 px, inside a 1,280 px window.
MAX_WIDTH = 12.0


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _axis_label(s: Summary, columns: list[str]) -> str:
    metrics = sorted({s.parts.at[c, "metric"] for c in columns})
    return f"{', '.join(metrics)} (%)"


def _errors(s: Summary, rows, column: str) -> np.ndarray:
    """± std where a value averages n > 1 seeds, else 0 (no bar drawn)."""
    n = s.ns.loc[rows, column].fillna(0).to_numpy(dtype=float)
    return np.where(n > 1, s.stds.loc[rows, column].fillna(0).to_numpy(dtype=float), 0.0)


def bar_panels(s: Summary) -> list[tuple[str, list[str]]]:
    """(task, its columns) for every task whose columns hold at least two values."""
    tasks = list(dict.fromkeys(s.parts.loc[s.columns, "task"]))
    out = []
    for task in tasks:
        cols = [c for c in s.columns if s.parts.at[c, "task"] == task]
        if int(s.means[cols].notna().to_numpy().sum()) >= 2:
            out.append((task, cols))
    return out


def task_bars(s: Summary) -> bytes | None:
    """One panel per task: a group of bars per dataset, one bar per checkpoint measured there."""
    panels = bar_panels(s)
    if not panels:
        return None
    widths = [max(2.6, 1.1 * len(cols) * max(1, s.means[cols].notna().any(axis=1).sum() / 3)) for _, cols in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(min(MAX_WIDTH, sum(widths) + 2.5), 3.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {k: colours[i % len(colours)] for i, k in enumerate(s.means.index)}
    for ax, (task, cols) in zip(axes.flat, panels):
        shown = [k for k in s.means.index if s.means.loc[k, cols].notna().any()]
        width = 0.8 / len(shown)
        x = np.arange(len(cols))
        for i, ckpt in enumerate(shown):
            values = s.means.loc[ckpt, cols].to_numpy(dtype=float)
            errors = np.array([_errors(s, [ckpt], c)[0] for c in cols])
            ax.bar(x + (i - (len(shown) - 1) / 2) * width, values, width, yerr=np.where(errors > 0, errors, np.nan),
                   capsize=2, color=colour[ckpt], hatch="//" if ckpt == s.baseline else None,
                   edgecolor="black", linewidth=0.4, label=ckpt)
        ax.set_xticks(x, [s.parts.at[c, "dataset"] for c in cols], rotation=20, ha="right")
        ax.set_ylabel(_axis_label(s, cols))
        ax.set_title(task)
        ax.grid(axis="y", alpha=0.3)
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    fig.tight_layout()
    return _png(fig)


def delta_heatmap(s: Summary) -> bytes | None:
    """Checkpoints minus baseline, in points, diverging around 0; rows and columns with no
    difference to show are left out, and so is the figure for fewer than two checkpoints."""
    if not s.baseline:
        return None
    deltas = s.deltas().drop(index=s.baseline).dropna(how="all").dropna(axis=1, how="all")
    if len(deltas) < 2:
        return None  # one checkpoint against the baseline: the table's Δ line already says it all
    data = deltas.to_numpy(dtype=float)
    limit = max(1.0, float(np.nanmax(np.abs(data))))
    fig, ax = plt.subplots(figsize=(min(MAX_WIDTH, 1.1 * data.shape[1] + 4), 0.5 * data.shape[0] + 1.8))
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(data.shape[1]), deltas.columns, rotation=20, ha="right")
    ax.set_yticks(range(data.shape[0]), deltas.index)
    for (i, j), v in np.ndenumerate(data):
        dark = not np.isnan(v) and abs(v) > 0.6 * limit
        ax.text(j, i, "–" if np.isnan(v) else f"{v:+.1f}", ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="Δ (points)")
    ax.set_title(f"Difference to the baseline {s.baseline}")
    return _png(fig)


def epoch_lines(s: Summary) -> dict[str, list[tuple[str, pd.DataFrame]]]:
    """column -> [(method arch, points)] for every (method, arch) with values at two or more
    pre-training lengths; columns without such a line are left out."""
    info = s.info[s.info["epochs"].notna()]
    out: dict[str, list] = {}
    for column in s.columns:
        for (method, arch), group in info.groupby(["method", "arch"], sort=True):
            points = pd.DataFrame({"epochs": group["epochs"].astype(float), "value": s.means.loc[group.index, column],
                                   "err": _errors(s, group.index, column)}).dropna(subset=["value"])
            points = points.groupby("epochs", as_index=False).mean().sort_values("epochs")
            if len(points) >= 2:
                out.setdefault(column, []).append((f"{method} {arch}".strip(), points))
    return out


def accuracy_vs_epochs(s: Summary) -> bytes | None:
    """Per column, the metric against pre-training epochs; one line per (method, arch)."""
    lines = epoch_lines(s)
    if not lines:
        return None
    n = len(lines)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(min(MAX_WIDTH, 4.2 * cols), 3.2 * rows), squeeze=False)
    names = sorted({name for series in lines.values() for name, _ in series})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (column, series) in zip(axes.flat, lines.items()):
        for name, points in series:  # one colour per (method, arch) in every panel
            err = points["err"].where(points["err"] > 0)
            ax.errorbar(points["epochs"], points["value"], yerr=err, marker="o", capsize=2,
                        color=colours[names.index(name) % len(colours)], label=name)
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("pre-training epochs")
        ax.set_ylabel(_axis_label(s, [column]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("Transfer against pre-training epochs (methods with two or more lengths)")
    fig.tight_layout()
    return _png(fig)


def figures(s: Summary) -> dict[str, tuple[str, bytes]]:
    """name -> (caption, PNG bytes), in report order; a figure with nothing to show is absent."""
    drawn = {
        "bars": ("Measured results per task (one panel per task and metric), ± std where n > 1.", task_bars(s)),
        "deltas": (f"Differences to the baseline {s.baseline}, in points.", delta_heatmap(s)),
        "epochs": ("Transfer against pre-training epochs, ± std where n > 1.", accuracy_vs_epochs(s)),
    }
    return {name: (caption, png) for name, (caption, png) in drawn.items() if png is not None}
