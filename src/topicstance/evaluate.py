"""Metrics, text reports and plots for topic (multi-label) and stance predictions.

Metric names are stable across model families so runs compare in the MLflow UI. Topic scores
treat each taxonomy topic as its own yes/no label (`other` is no label); macro means average
over the topics and over the stances.
"""

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
)

from topicstance.labels import Taxonomy
from topicstance.models.base import LabeledSplit


def paired(taxonomy: Taxonomy, truth: LabeledSplit, predicted) -> tuple:
    """(taxonomy, true topics, predicted topics, true stances, predicted stances): the arguments
    of `compute_metrics`, `report` and `confusion_figure`, from a model's prediction frame."""
    return (taxonomy, truth.topics, taxonomy.topics_to_matrix(predicted["topics"]),
            truth.stances, taxonomy.stances_to_index(predicted["stance"]))


def compute_metrics(taxonomy: Taxonomy, true_topics: np.ndarray, pred_topics: np.ndarray,
                    true_stance: np.ndarray, pred_stance: np.ndarray) -> dict[str, float]:
    stance_labels = list(range(len(taxonomy.stances)))
    topic_f1 = f1_score(true_topics, pred_topics, average=None, zero_division=0)
    stance_f1 = f1_score(true_stance, pred_stance, labels=stance_labels, average=None,
                         zero_division=0)
    metrics = {
        "topic_micro_f1": f1_score(true_topics, pred_topics, average="micro", zero_division=0),
        "topic_macro_f1": float(np.mean(topic_f1)),
        "stance_macro_f1": float(np.mean(stance_f1)),
        "stance_accuracy": accuracy_score(true_stance, pred_stance),
    }
    metrics["mean_macro_f1"] = (metrics["topic_macro_f1"] + metrics["stance_macro_f1"]) / 2
    metrics.update({f"topic_f1/{t}": float(v) for t, v in zip(taxonomy.topics, topic_f1)})
    metrics.update({f"stance_f1/{s}": float(v) for s, v in zip(taxonomy.stances, stance_f1)})
    return {k: round(float(v), 6) for k, v in metrics.items()}


def report(taxonomy: Taxonomy, true_topics, pred_topics, true_stance, pred_stance) -> str:
    topics = classification_report(true_topics, pred_topics, target_names=list(taxonomy.topics),
                                   zero_division=0, digits=3)
    stances = classification_report(true_stance, pred_stance,
                                     labels=list(range(len(taxonomy.stances))),
                                     target_names=list(taxonomy.stances), zero_division=0, digits=3)
    return f"TOPICS (each a yes/no label)\n{topics}\nSTANCE\n{stances}"


def confusion_figure(taxonomy: Taxonomy, true_topics, pred_topics, true_stance, pred_stance):
    """Stance confusion matrix and one yes/no matrix per topic, in one figure."""
    n_topics = len(taxonomy.topics)
    fig = Figure(figsize=(3.2 * (n_topics + 1) + 1.5, 4.0))
    axes = fig.subplots(1, n_topics + 1)
    stance_cm = confusion_matrix(true_stance, pred_stance, labels=range(len(taxonomy.stances)))
    _draw(axes[0], stance_cm, list(taxonomy.stances), "stance")
    for ax, topic, cm in zip(axes[1:], taxonomy.topics,
                             multilabel_confusion_matrix(true_topics, pred_topics)):
        _draw(ax, cm, ["no", "yes"], topic)
    fig.tight_layout()
    return fig


def _draw(ax, cm, names, title):
    ax.imshow(cm, cmap="Blues")
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=30, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 2 else "black")
