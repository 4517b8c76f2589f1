"""The labeled corpus as the jobs use it: loading, the article-grouped split, and counts."""

from collections import Counter
from pathlib import Path

import datasets
import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from topicstance.io import Rejected, read_labeled
from topicstance.labels import Taxonomy
from topicstance.models.base import LabeledSplit


def load(paths, taxonomy: Taxonomy) -> tuple[datasets.Dataset, list[Rejected]]:
    return read_labeled([Path(p) for p in paths], taxonomy)


def to_split(rows: datasets.Dataset, taxonomy: Taxonomy) -> LabeledSplit:
    return LabeledSplit(texts=list(rows["text"]),
                        topics=taxonomy.topics_to_matrix(rows["topics"]),
                        stances=taxonomy.stances_to_index(rows["stance"]))


def split_by_article(rows: datasets.Dataset, dev_fraction: float,
                     seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Train and dev sets with no article on both sides."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=dev_fraction, random_state=seed)
    train_idx, dev_idx = next(splitter.split(np.zeros(len(rows)), groups=rows["article_id"]))
    return rows.select(sorted(train_idx)), rows.select(sorted(dev_idx))


def counts(rows: datasets.Dataset, taxonomy: Taxonomy) -> dict:
    """Segments, articles, per topic, per stance and per topic x stance (`other` = no topic)."""
    per_topic, per_stance, crossed = Counter(), Counter(), Counter()
    for topics, stance in zip(rows["topics"], rows["stance"]):
        per_stance[stance] += 1
        for topic in topics or [taxonomy.no_topic]:
            per_topic[topic] += 1
            crossed[f"{topic} x {stance}"] += 1
    names = list(taxonomy.topics) + [taxonomy.no_topic]
    return {
        "segments": len(rows),
        "articles": len(set(rows["article_id"])),
        "topics": {t: per_topic[t] for t in names},
        "stances": {s: per_stance[s] for s in taxonomy.stances},
        "topic_x_stance": {f"{t} x {s}": crossed[f"{t} x {s}"]
                           for t in names for s in taxonomy.stances},
    }
