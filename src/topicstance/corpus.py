"""The labeled corpus as the jobs use it: loading, the article-grouped split, and counts."""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from topicstance.io import Rejected, read_labeled
from topicstance.labels import Taxonomy
from topicstance.models.base import context
from topicstance.segment import headlines_and_previous

WRITTEN_SOURCE = "synthetic"  # the `source` of the corpus written for the project


@dataclass
class LabeledSplit:
    """Texts and their labels as the models train and are scored on."""

    texts: list[str]
    topics: np.ndarray   # (n, n_topics) multi-hot
    stances: np.ndarray  # (n,) stance index
    contexts: list[str] | None = None  # the article context of each text (`models.base.context`)
    about_war: np.ndarray | None = None  # (n,) 1 when the text's article is about the war
    article_ids: list[str] | None = None  # the article of each text (rows of one are together)
    real: np.ndarray | None = None  # (n,) 1 for real text (seed pages, coverage, reviews), 0 written
    outlets: list[str] | None = None  # the printing outlet of each text, "" where not known

    def __len__(self) -> int:
        return len(self.texts)


def load(paths, taxonomy: Taxonomy) -> tuple[datasets.Dataset, list[Rejected]]:
    return read_labeled([Path(p) for p in paths], taxonomy)


def to_split(rows: datasets.Dataset, taxonomy: Taxonomy) -> LabeledSplit:
    """Texts, labels and each text's article context."""
    return LabeledSplit(texts=list(rows["text"]),
                        topics=taxonomy.topics_to_matrix(rows["topics"]),
                        stances=taxonomy.stances_to_index(rows["stance"]),
                        contexts=article_contexts(list(rows["article_id"]), list(rows["text"])),
                        article_ids=list(rows["article_id"]),
                        real=np.array([int(s != WRITTEN_SOURCE) for s in rows["source"]]))


def article_contexts(article_ids: list[str], texts: list[str]) -> list[str]:
    return [context(h, p) for h, p in zip(*headlines_and_previous(article_ids, texts))]


def about_war(rows: datasets.Dataset, war_articles: dict[str, bool], no_side: str,
              war_topics) -> np.ndarray:
    """1 for segments of articles about the war. The coverage corpus records it per article
    (`war_articles`); elsewhere an article counts as about the war when any of its segments
    takes a side (a stance other than `no_side`) or one of `war_topics`."""
    war_topics = set(war_topics)
    by_article: dict[str, bool] = {}
    for article_id, topics, stance in zip(rows["article_id"], rows["topics"], rows["stance"]):
        signal = stance != no_side or bool(war_topics & set(topics))
        by_article[article_id] = by_article.get(article_id, False) or signal
    by_article.update({a: w for a, w in war_articles.items() if a in by_article})
    return np.array([int(by_article[a]) for a in rows["article_id"]])


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
