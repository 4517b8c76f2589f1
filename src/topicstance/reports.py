"""What every training and evaluation run logs about a scored split, under the same names for
every model family: the classification report, a normalized stance confusion matrix, per-topic
precision/recall/F1 bars, the stance head's reliability curve and the worst misclassified
segments as an MLflow table (`<prefix>/...`: `dev/` for training runs, `eval/` for evaluation)."""

from pathlib import Path

import pandas as pd

from topicstance import metrics, plots, tracking
from topicstance.corpus import LabeledSplit
from topicstance.labels import Taxonomy


def log_split_report(prefix: str, taxonomy: Taxonomy, truth: LabeledSplit,
                     predicted: pd.DataFrame, worst: int) -> None:
    scores = metrics.paired(taxonomy, truth, predicted)
    _, true_topics, pred_topics, true_stance, pred_stance = scores
    tracking.log_text(metrics.report(*scores), f"{prefix}/classification_report.txt")
    tracking.log_figure(plots.stance_confusion(taxonomy, true_stance, pred_stance),
                        f"{prefix}/stance_confusion.png")
    tracking.log_figure(plots.topic_scores(taxonomy, true_topics, pred_topics),
                        f"{prefix}/topic_scores.png")
    tracking.log_figure(plots.stance_reliability(
        taxonomy, true_stance, metrics.stance_probabilities(taxonomy, predicted)),
        f"{prefix}/stance_reliability.png")
    tracking.log_table(metrics.worst_misclassified(taxonomy, truth, predicted, worst),
                       f"{prefix}/worst_misclassified.json")


def log_labeled_data(rows, name: str, files, context: str) -> None:
    """Labeled rows as a dataset input: their content (not where the files lie, so the same
    data has the same digest in every checkout; labels as plain strings) and their source."""
    files = [Path(f) for f in files]
    source = str(files[0]) if len(files) == 1 else str(_common_folder(files))
    frame = rows.select_columns(["id", "article_id", "text", "topics", "stance"]).to_pandas()
    frame["topics"] = [", ".join(t) for t in frame["topics"]]
    tracking.log_dataset(frame, name=name, source=source, context=context)


def _common_folder(files: list[Path]) -> Path:
    parents = [set(f.resolve().parents) for f in files]
    return max(set.intersection(*parents), key=lambda p: len(p.parts))
