#!/usr/bin/env python3
"""Expert-usage heatmap of docs/report.md from the CSV vib3-model-report writes (issue 7 item 6).

Left: share of tokens routed to each expert, per layer (layers x experts, annotated); the bottom row pools all layers,
which is what the training's load-balancing loss (transformers' load_balancing_loss_func, computed on all layers'
router logits concatenated) pushes towards balance. Right: the mean routing weight an expert got when chosen.

Needs matplotlib and numpy: on Debian `apt-get install python3-matplotlib` (then run it with /usr/bin/python3 if
another python3, e.g. pyenv's, comes first on PATH), or `pip install matplotlib`.
Usage:  python3 tools/Vib3.ModelReport/plot_expert_usage.py [--csv docs/training/expert_usage.csv]
                                                            [--out docs/training/expert_usage.png]
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")  # files only: no display on build machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
import numpy as np  # noqa: E402


def read_grid(path, column):
    """{(layer, expert): value} of one CSV column as a layers x experts array."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    layers = 1 + max(int(r["layer"]) for r in rows)
    experts = 1 + max(int(r["expert"]) for r in rows)
    grid = np.zeros((layers, experts))
    for r in rows:
        grid[int(r["layer"]), int(r["expert"])] = float(r[column])
    return grid


def heatmap(ax, grid, labels, fmt, title, cmap, vmin, vmax):
    im = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        r, g, b, _ = im.cmap(im.norm(v))
        light_cell = 0.299 * r + 0.587 * g + 0.114 * b > 0.5  # so every annotation stays readable
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8, color="black" if light_cell else "white")
    ax.set_xticks(range(grid.shape[1]), [str(e) for e in range(grid.shape[1])])
    ax.set_yticks(range(grid.shape[0]), labels)
    ax.set_xlabel("expert")
    ax.set_title(title, fontsize=9)
    return im


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default="docs/training/expert_usage.csv")
    ap.add_argument("--out", default="docs/training/expert_usage.png")
    args = ap.parse_args()

    share = read_grid(args.csv, "token_fraction")
    tokens = round(read_grid(args.csv, "selected")[0].sum() / round(share[0].sum()))
    weight = read_grid(args.csv, "mean_weight")
    layers, experts = share.shape
    top_k = round(share[0].sum())
    balanced = top_k / experts
    share = np.vstack([share, share.mean(axis=0)])
    labels = [f"layer {i}" for i in range(layers)] + ["all layers"]

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=120, gridspec_kw={"width_ratios": [1, 1]})
    im = heatmap(a, share, labels, "{:.0%}", f"share of held-out tokens routed to each expert (top-{top_k}: a row sums "
                 f"to {top_k:.0%}; balance = {balanced:.0%})", "RdBu_r", 0.0, 2 * balanced)
    a.axhline(layers - 0.5, color="black", lw=2)
    fig.colorbar(im, ax=a, format=PercentFormatter(1.0))
    im = heatmap(b, weight, labels[:layers], "{:.2f}", "mean routing weight when chosen (top-2 weights sum to 1)",
                 "viridis", 0.0, 1.0)
    fig.colorbar(im, ax=b)
    fig.suptitle(f"vib3-moe expert usage over the held-out text ({tokens:,} tokens), computed by vib3", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
