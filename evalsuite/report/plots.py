"""The report's three figures, each returned as PNG bytes (matplotlib, Agg backend)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on CI machines; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evalsuite.report.tables import Summary  # noqa: E402

DPI = 100


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def grouped_bars(s: Summary) -> bytes:
    """One group of bars per (dataset, task) column, one bar per checkpoint, accuracy in %."""
    values = 100 * s.means[s.columns]  # checkpoints x columns
    n_ckpt, n_col = values.shape
    width = 0.8 / n_ckpt
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * n_col * max(1, n_ckpt / 3)), 4.0))
    x = np.arange(n_col)
    for i, ckpt in enumerate(values.index):
        hatch = "//" if ckpt == s.baseline else None
        ax.bar(x + (i - (n_ckpt - 1) / 2) * width, values.loc[ckpt].to_numpy(dtype=float), width,
               label=f"{ckpt} ({s.info.at[ckpt, 'kind']})", hatch=hatch, edgecolor="black", linewidth=0.4)
    ax.set_xticks(x, s.columns, rotation=20, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Measured accuracy per dataset and task")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def delta_heatmap(s: Summary) -> bytes:
    """Checkpoint minus baseline, in percentage points, diverging around 0 (the baseline row
    is all zeros and left out)."""
    deltas = 100 * s.deltas().drop(index=s.baseline)
    data = deltas.to_numpy(dtype=float)
    limit = max(1.0, float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * data.shape[1] + 3), 0.5 * data.shape[0] + 1.8))
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(data.shape[1]), deltas.columns, rotation=20, ha="right")
    ax.set_yticks(range(data.shape[0]), deltas.index)
    for (i, j), v in np.ndenumerate(data):
        dark = not np.isnan(v) and abs(v) > 0.6 * limit
        ax.text(j, i, "-" if np.isnan(v) else f"{v:+.1f}", ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label=f"Δ vs {s.baseline} (points)")
    ax.set_title(f"Difference to the baseline {s.baseline}")
    return _png(fig)


def has_epochs(s: Summary) -> bool:
    return bool(s.info["epochs"].notna().any())


def accuracy_vs_epochs(s: Summary) -> bytes:
    """Per column, accuracy against pre-training epochs; one line per (method, arch)."""
    info = s.info[s.info["epochs"].notna()]
    n = len(s.columns)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    lines = list(info.groupby(["method", "arch"], sort=True))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, column in zip(axes.flat, s.columns):
        for i, ((method, arch), group) in enumerate(lines):  # one colour per (method, arch) in every panel
            points = pd.DataFrame({"epochs": group["epochs"].astype(float),
                                   "value": 100 * s.means.loc[group.index, column]}).dropna().sort_values("epochs")
            if len(points):
                ax.plot(points["epochs"], points["value"], marker="o", color=colours[i % len(colours)], label=f"{method} {arch}".strip())
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("pre-training epochs")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("Accuracy against pre-training epochs (checkpoints that record epochs)")
    fig.tight_layout()
    return _png(fig)


def figures(s: Summary) -> dict[str, tuple[str, bytes]]:
    """name -> (caption, PNG bytes), in report order."""
    out = {"bars": ("Grouped bars: measured accuracy per dataset and task.", grouped_bars(s))}
    if s.baseline:
        out["deltas"] = (f"Heat map of differences to the baseline {s.baseline}, in percentage points.", delta_heatmap(s))
    if has_epochs(s):
        out["epochs"] = ("Accuracy against pre-training epochs.", accuracy_vs_epochs(s))
    return out
