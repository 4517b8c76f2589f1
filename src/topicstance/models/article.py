"""The article stage: a segment's scores read beside its context's and its whole article's.

Many segments only make sense in their article: "the defendants face deportation" in a court
report on a spy ring, "these steps" under a sanctions headline, a tabloid's paragraph whose side
shows in the next one. The family (first stage) scores each text alone. This stage is a small
logistic regression per topic, and one for the stance, over the log-odds of:
  - the segment's own scores,
  - the scores of its article context (headline and previous segment, scored as one text),
  - the mean and the max of the segment scores over its article (the rows that share its
    `article_id` in the same call; a text without one is its own article).
The first stage's scores on the training data must be the ones it gives unseen text, so they
come from copies of the family refit on folds grouped by article, or by outlet (see
`TopicStanceModel._folds`): the text the job meets is mostly from outlets it never trained on.
"""

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from topicstance import pickled

STAGE_FILE = "article_stage.pkl"
_EPS = 1e-4


class ArticleStage:
    def __init__(self, params: dict):
        self.params = params

    def fit(self, segment_scores: np.ndarray, context_scores: np.ndarray, article_ids,
            topics: np.ndarray, stances: np.ndarray) -> "ArticleStage":
        """`*_scores`: (n, n_topics + n_stances) first-stage probabilities, topics first."""
        x = features(segment_scores, context_scores, article_ids)
        c = float(self.params["C"])
        topic_weight = "balanced" if self.params.get("balanced_topics") else None
        stance_weight = "balanced" if self.params.get("balanced_stance") else None
        self.topic_heads = [LogisticRegression(C=c, class_weight=topic_weight, max_iter=3000)
                            .fit(x, topics[:, j]) for j in range(topics.shape[1])]
        self.stance_head = LogisticRegression(C=c, class_weight=stance_weight,
                                              max_iter=3000).fit(x, stances)
        return self

    def apply(self, segment_scores, context_scores, article_ids, n_stances: int):
        """(topic probabilities, stance probabilities) after the article stage."""
        x = features(segment_scores, context_scores, article_ids)
        topics = np.column_stack([head.predict_proba(x)[:, 1] for head in self.topic_heads])
        stance = np.zeros((len(x), n_stances))
        stance[:, self.stance_head.classes_] = self.stance_head.predict_proba(x)
        return topics, stance

    def save(self, directory: Path) -> None:
        pickled.dump({"topic_heads": self.topic_heads, "stance_head": self.stance_head},
                    Path(directory) / STAGE_FILE)

    @classmethod
    def load(cls, params: dict, directory: Path) -> "ArticleStage":
        stage = cls(params)
        parts = pickled.load(Path(directory) / STAGE_FILE)
        stage.topic_heads, stage.stance_head = parts["topic_heads"], parts["stance_head"]
        return stage


def features(segment_scores: np.ndarray, context_scores: np.ndarray, article_ids) -> np.ndarray:
    own, context = _log_odds(segment_scores), _log_odds(context_scores)
    if article_ids is None:
        return np.hstack([own, context, own, own])
    frame = pd.DataFrame(own).groupby(pd.Series(list(article_ids), dtype=str).values)
    return np.hstack([own, context, frame.transform("mean").to_numpy(),
                      frame.transform("max").to_numpy()])


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def grouped_folds(article_ids, n_folds: int, outlets=None):
    """(fit rows, held-out rows) pairs; an article's segments are never on both sides, nor,
    with `outlets`, an outlet's (rows whose outlet is "" are grouped by their article)."""
    groups = np.asarray(article_ids, dtype=str)
    if outlets is not None:
        groups = np.array([f"outlet:{o}" if o else f"article:{a}"
                           for a, o in zip(groups, outlets, strict=True)])
    return GroupKFold(n_splits=n_folds).split(np.zeros(len(groups)), groups=groups)


def take(split, rows: np.ndarray):
    """The same kind of labeled split, restricted to `rows`."""
    def pick(value):
        if value is None:
            return None
        return value[rows] if isinstance(value, np.ndarray) else [value[i] for i in rows]
    return replace(split, **{f.name: pick(getattr(split, f.name)) for f in fields(split)})
