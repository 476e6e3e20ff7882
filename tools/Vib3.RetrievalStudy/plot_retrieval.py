"""Plots docs/retrieval/results.csv (written by vib3-retrieval-study): held-out perplexity and KL(exact || retrieval)
against the expert bytes read per token, one panel pair per model, one line per routing family.

    python3 tools/Vib3.RetrievalStudy/plot_retrieval.py docs/retrieval/results.csv docs/retrieval/retrieval_tradeoff.png
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAMILIES = ["key", "top-4 experts", "top-2 experts", "key + 0.05 ln p", "key + ln p", "random keys + ln p"]


def main(src: str, dst: str) -> None:
    rows = list(csv.DictReader(open(src, encoding="utf-8")))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for m, model in enumerate(models):
        mine = [r for r in rows if r["model"] == model]
        exact = next(r for r in mine if r["family"] == "exact")
        series = defaultdict(list)
        for r in mine:
            if r["family"] in FAMILIES:
                series[r["family"]].append((float(r["expert_kib_per_token"]), float(r["perplexity"]), float(r["kl"])))
        for col, (index, label, log) in enumerate([(1, "held-out perplexity", True), (2, "KL(exact ‖ retrieval), nats", False)]):
            ax = axes[m][col]
            for family in FAMILIES:
                pts = sorted(series.get(family, []))
                if pts:
                    style = "--" if family.startswith("random") else "-"
                    ax.plot([p[0] for p in pts], [p[index] for p in pts], style, marker="o", label=family)
            ax.scatter([float(exact["expert_kib_per_token"])], [float(exact["perplexity"] if index == 1 else 0)],
                       marker="*", s=160, color="black", zorder=5, label="exact (router top-k)")
            values = [float(r["perplexity"]) for r in mine]
            if log and max(values) / min(values) > 2:  # a model whose experts hardly matter keeps a linear axis
                ax.set_yscale("log")
            ax.set_xlabel("expert KiB read per token")
            ax.set_ylabel(label)
            ax.set_title(model, fontsize=9)
            ax.grid(alpha=0.3)
        axes[m][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/retrieval/results.csv",
         sys.argv[2] if len(sys.argv) > 2 else "docs/retrieval/retrieval_tradeoff.png")
