"""Drift: how far a prediction run's output has moved from what the model saw in training.

At train time the model keeps a *reference*: its own predictions on the dev split (held-out
training data), summarised as the share of each topic (with the no-topic name), the share of
each stance, and histograms of the stance score and of each segment's highest topic score.
Each prediction run summarises its own rows the same way and compares the two with the
population stability index (PSI = sum (p - q) ln(p / q) over the bins). A PSI past the
configured threshold flags the run: the input is not what the model was trained and tuned on.
Comparing predictions with predictions keeps the model's own biases out of the figure.
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from topicstance.outputs import read_segments

log = logging.getLogger(__name__)
SCORE_BINS = 10
EPSILON = 1e-4  # a bin empty on one side would make PSI infinite


def summary(taxonomy, topic_scores: np.ndarray, stance_scores: np.ndarray,
            thresholds: np.ndarray) -> dict:
    """The distribution of a set of predictions, from the model's probabilities."""
    decided = topic_scores >= thresholds
    topics = {t: int(decided[:, j].sum()) for j, t in enumerate(taxonomy.topics)}
    topics[taxonomy.no_topic] = int((~decided.any(axis=1)).sum())
    chosen = stance_scores.argmax(axis=1)
    stances = {s: int((chosen == j).sum()) for j, s in enumerate(taxonomy.stances)}
    top_topic = topic_scores.max(axis=1) if topic_scores.shape[1] else np.zeros(len(topic_scores))
    return {"segments": len(topic_scores), "topics": topics, "stances": stances,
            "stance_score": _histogram(stance_scores.max(axis=1)),
            "top_topic_score": _histogram(top_topic)}


def summary_of_rows(rows: pd.DataFrame, taxonomy: dict) -> dict:
    """The same summary from committed output rows (`topics`, `stance`, score columns)."""
    topics = {t: 0 for t in taxonomy["topics"]}
    no_topic = 0
    for listed in rows["topics"]:
        no_topic += len(listed) == 0
        for t in listed:
            topics[t] = topics.get(t, 0) + 1
    topics[taxonomy["no_topic"]] = no_topic
    counts = rows["stance"].value_counts()
    score_columns = [f"score_{t}" for t in taxonomy["topics"]]
    top_topic = rows[score_columns].max(axis=1).to_numpy() if len(rows) else np.zeros(0)
    return {"segments": len(rows), "topics": topics,
            "stances": {s: int(counts.get(s, 0)) for s in taxonomy["stances"]},
            "stance_score": _histogram(rows["stance_score"].to_numpy()),
            "top_topic_score": _histogram(top_topic)}


def _histogram(values: np.ndarray) -> list[int]:
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=SCORE_BINS, range=(0.0, 1.0))
    return counts.astype(int).tolist()


def psi(expected, actual) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.asarray(expected, dtype=float)
    q = np.asarray(actual, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p = np.clip(p / p.sum(), EPSILON, None)
    q = np.clip(q / q.sum(), EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def compare(reference: dict | None, run: dict, threshold: float, min_segments: int,
            min_articles: int = 0) -> dict:
    """PSI per distribution and the flags past `threshold`. No reference (a model trained
    without a dev split) or too few segments or articles to say anything: no figures, and the
    reason. The articles count because one story's segments share its topic and side: a single
    long page is not a sample of the news however many segments it has."""
    if not reference:
        return {"status": "no reference: the model carries no training distribution"}
    if run["segments"] < min_segments:
        return {"status": f"too few segments ({run['segments']} < min_segments={min_segments})"}
    if run.get("articles", min_articles) < min_articles:
        return {"status": f"too few articles ({run['articles']} < min_articles={min_articles})"}
    names = ("topics", "stances")
    figures = {name: psi([reference[name].get(k, 0) for k in reference[name]],
                         [run[name].get(k, 0) for k in reference[name]]) for name in names}
    for name in ("stance_score", "top_topic_score"):
        figures[name] = psi(reference[name], run[name])
    figures = {k: round(v, 4) for k, v in figures.items()}
    flags = [f"{name} PSI {value:.2f} > {threshold:g}" for name, value in figures.items()
             if value > threshold]
    return {"status": "drift" if flags else "ok", "psi": figures, "threshold": threshold,
            "flags": flags, "segments": run["segments"],
            "reference_segments": reference["segments"]}


def check_run(output: Path, run_id: str, taxonomy: dict, reference: dict | None, cfg) -> dict:
    """Compare the rows run `run_id` committed to `output` with the model's reference."""
    columns = ["article_id", "topics", "stance", "stance_score",
               *(f"score_{t}" for t in taxonomy["topics"])]
    rows = read_segments(output, columns=columns, filters=[("run_id", "=", run_id)])
    if rows.empty:
        rows = pd.DataFrame(columns=columns)
    run = {**summary_of_rows(rows, taxonomy), "articles": int(rows["article_id"].nunique())}
    result = compare(reference, run, float(cfg.threshold), int(cfg.min_segments),
                     int(cfg.min_articles))
    if result.get("flags"):
        log.warning("drift: %s; this input is unlike the model's training data (README, "
                    "\"Drift warnings\")", "; ".join(result["flags"]))
    return result


def metrics(result: dict) -> dict[str, float]:
    """The figures for MLflow: `drift/psi_<distribution>` and `drift/flagged` (0 or 1)."""
    if "psi" not in result:
        return {}
    return {**{f"drift/psi_{k}": v for k, v in result["psi"].items()},
            "drift/flagged": float(bool(result["flags"]))}
