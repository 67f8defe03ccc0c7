"""Loss and metric curves from a run's metrics.jsonl, as one PNG."""

from __future__ import annotations

import math
from pathlib import Path

from ..image import atomic_path
from ..runtime import runs as ckpt

SKIP = {"step", "time", "lr"}


def plot_curves(run: Path) -> Path | None:
    rows = ckpt.read_metrics(run)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [row for row in rows if "event" in row]
    rows = [row for row in rows if "event" not in row]
    keys: list[str] = []  # every numeric key in first-seen order (FID rows come less often than loss rows)
    for row in rows:
        keys += [k for k, v in row.items() if k not in SKIP and k not in keys and isinstance(v, (int, float))]
    series = {
        k: [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])] for k in keys
    }
    # a GAN's total group loss equals its adversarial loss when it has no penalty: plot such twins once
    keys = [k for i, k in enumerate(keys) if series[k] not in [series[earlier] for earlier in keys[:i]]]
    columns = min(3, len(keys)) or 1
    lines = math.ceil(len(keys) / columns) or 1
    figure, axes = plt.subplots(lines, columns, figsize=(4 * columns, 2.8 * lines), squeeze=False)
    for axis, key in zip(axes.flat, keys):
        points = series[key]
        if points:
            axis.plot(*zip(*points), linewidth=1.2)
        for event in events:  # guard rollbacks, where they happened
            axis.axvline(event.get("failed_at", event["step"]), color="tab:red", alpha=0.4, linewidth=0.8)
        axis.set_title(key, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(keys) :]:
        axis.axis("off")
    figure.tight_layout()
    path = Path(run) / "curves.png"
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90, format="png")
    plt.close(figure)
    return path
