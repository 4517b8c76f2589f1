"""Metrics and text reports for topic (multi-label) and stance predictions; no plotting here
(that is `topicstance.plots`), so models and inference never import matplotlib.

Metric names are stable across model families so runs compare in the MLflow UI. Topic scores
treat each taxonomy topic as its own yes/no label (`other` is no label); macro means average
over the topics and over the stances.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
)

from topicstance.labels import Taxonomy

if TYPE_CHECKING:
    from topicstance.corpus import LabeledSplit

# Also reported for labeled segments sent alone (no context, no article id), under `alone/`.
ALONE_METRICS = ("topic_macro_f1", "stance_macro_f1")


def paired(taxonomy: Taxonomy, truth: LabeledSplit, predicted) -> tuple:
    """(taxonomy, true topics, predicted topics, true stances, predicted stances): the arguments
    of `compute_metrics` and `report`, from a model's prediction frame."""
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
    metrics.update(side_flips(taxonomy, np.asarray(true_stance), np.asarray(pred_stance)))
    return {k: round(float(v), 6) for k, v in metrics.items()}


def side_flips(taxonomy: Taxonomy, true_stance: np.ndarray, pred_stance: np.ndarray
               ) -> dict[str, float]:
    """Of the segments that take a side, the share predicted as another side
    (`stance_side_flip_rate`), and the share of their errors that are such flips rather than
    the no-side stance (`stance_side_flip_error_share`): reading Moscow's accusations quoted
    by Kyiv as Moscow's side is worse than missing the side. Empty for a taxonomy with no
    `no_side` stance or with fewer than two sides, or with no sided segment."""
    if taxonomy.no_side not in taxonomy.stances or len(taxonomy.stances) < 3:
        return {}
    no_side = taxonomy.stances.index(taxonomy.no_side)
    sided = true_stance != no_side
    if not sided.any():
        return {}
    wrong = sided & (pred_stance != true_stance)
    flips = wrong & (pred_stance != no_side)
    return {"stance_side_flip_rate": flips.sum() / sided.sum(),
            "stance_side_flip_error_share": flips.sum() / wrong.sum() if wrong.any() else 0.0}


def report(taxonomy: Taxonomy, true_topics, pred_topics, true_stance, pred_stance) -> str:
    topics = classification_report(true_topics, pred_topics, target_names=list(taxonomy.topics),
                                   zero_division=0, digits=3)
    stances = classification_report(true_stance, pred_stance,
                                     labels=list(range(len(taxonomy.stances))),
                                     target_names=list(taxonomy.stances), zero_division=0, digits=3)
    return f"TOPICS (each a yes/no label)\n{topics}\nSTANCE\n{stances}"


def stance_probabilities(taxonomy: Taxonomy, predicted: pd.DataFrame) -> np.ndarray:
    """(n, n_stances) from a prediction frame's `prob_<stance>` columns."""
    return predicted[[f"prob_{s}" for s in taxonomy.stances]].to_numpy(dtype=float)


def worst_misclassified(taxonomy: Taxonomy, truth: LabeledSplit, predicted: pd.DataFrame,
                        limit: int) -> pd.DataFrame:
    """The `limit` wrong segments the model was surest about: a wrong stance costs
    -log p(true stance), each wrong topic |truth - score|; most costly first."""
    stance_probs = stance_probabilities(taxonomy, predicted)
    p_true = stance_probs[np.arange(len(truth)), truth.stances]
    topic_scores = predicted[[f"score_{t}" for t in taxonomy.topics]].to_numpy(dtype=float)
    pred_topics = taxonomy.topics_to_matrix(predicted["topics"])
    pred_stance = taxonomy.stances_to_index(predicted["stance"])
    topic_wrong = pred_topics != truth.topics
    stance_wrong = pred_stance != truth.stances
    cost = (np.where(stance_wrong, -np.log(np.clip(p_true, 1e-9, 1.0)), 0.0)
            + (np.abs(truth.topics - topic_scores) * topic_wrong).sum(axis=1))

    def names(row):
        return ", ".join(t for t, on in zip(taxonomy.topics, row) if on) or taxonomy.no_topic

    frame = pd.DataFrame({
        "text": truth.texts,
        "true_topics": [names(r) for r in truth.topics],
        "predicted_topics": [names(r) for r in pred_topics],
        "true_stance": [taxonomy.stances[i] for i in truth.stances],
        "predicted_stance": [taxonomy.stances[i] for i in pred_stance],
        "p_true_stance": np.round(p_true, 4),
        "error": np.where(stance_wrong & topic_wrong.any(axis=1), "topic+stance",
                          np.where(stance_wrong, "stance", "topic")),
        "cost": np.round(cost, 4),
    })
    wrong = frame[stance_wrong | topic_wrong.any(axis=1)]
    return wrong.sort_values("cost", ascending=False, kind="stable").head(limit).reset_index(
        drop=True)
