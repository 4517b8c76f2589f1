"""The figures every training and evaluation run logs, with the same names for every family:
what a person would rather look at than read. Built on matplotlib's `Figure` (no pyplot state),
so nothing here opens a window or leaks memory across runs."""

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from topicstance.labels import Taxonomy


def stance_confusion(taxonomy: Taxonomy, true_stance, pred_stance) -> Figure:
    """Stance confusion matrix, each true stance's row normalized to 1 (counts in brackets)."""
    names = list(taxonomy.stances)
    counts = confusion_matrix(true_stance, pred_stance, labels=range(len(names)))
    shares = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title("stance (rows: share of each true stance)", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    for (i, j), share in np.ndenumerate(shares):
        ax.text(j, i, f"{share:.2f}\n({counts[i, j]})", ha="center", va="center", fontsize=8,
                color="white" if share > 0.5 else "black")
    fig.tight_layout()
    return fig


def topic_scores(taxonomy: Taxonomy, true_topics, pred_topics) -> Figure:
    """Precision, recall and F1 of each topic, side by side."""
    precision, recall, f1, support = precision_recall_fscore_support(
        true_topics, pred_topics, average=None, zero_division=0)
    names = list(taxonomy.topics)
    x = np.arange(len(names))
    fig = Figure(figsize=(1.6 * len(names) + 2.5, 4.0))
    ax = fig.subplots()
    for k, (label, values) in enumerate([("precision", precision), ("recall", recall),
                                         ("F1", f1)]):
        bars = ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.set_xticks(x, [f"{n}\n(n={s})" for n, s in zip(names, support)], fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_title("topics: precision / recall / F1", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def stance_reliability(taxonomy: Taxonomy, true_stance, stance_probs, n_bins: int = 10) -> Figure:
    """Reliability curve of the stance head: per stance, the mean predicted probability against
    the observed share in each probability bin; the diagonal is perfect calibration."""
    fig = Figure(figsize=(5.0, 4.4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="calibrated")
    for j, name in enumerate(taxonomy.stances):
        is_stance = (np.asarray(true_stance) == j).astype(int)
        if is_stance.min() == is_stance.max():
            continue  # one class only: no curve to draw
        observed, predicted = calibration_curve(is_stance, stance_probs[:, j], n_bins=n_bins)
        ax.plot(predicted, observed, marker="o", markersize=3, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability", fontsize=8)
    ax.set_ylabel("observed share", fontsize=8)
    ax.set_title("stance reliability", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def runs_compared(labels: list[str], metrics: dict[str, list[float | None]]) -> Figure:
    """One group of bars per run, one bar per metric: a sweep's children side by side."""
    fig = Figure(figsize=(max(6.0, 1.2 * len(labels) * max(len(metrics), 1) / 2 + 2), 4.8))
    ax = fig.subplots()
    x = np.arange(len(labels))
    width = 0.8 / max(len(metrics), 1)
    for k, (name, values) in enumerate(metrics.items()):
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (k - (len(metrics) - 1) / 2) * width, heights, width=width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_title("sweep: runs compared", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
