"""The article stage: a segment's scores read beside its context's and its whole article's.

Many segments only make sense in their article: "the defendants face deportation" in a court
report on a spy ring, "these steps" under a sanctions headline, a tabloid's paragraph whose side
shows in the next one. The family (first stage) scores each text alone. This stage is a small
logistic regression per topic, and one for the stance, over the log-odds of:
  - the segment's own scores,
  - the scores of its article context (headline and previous segment, scored as one text),
  - the mean and the max of the segment scores over its article (the rows that share its
    `article_id` in the same call).
A text sent without an article id (a single segment to the served model, a pyfunc call with no
`article_id` column), or the only row of its article (a file of ready-cut segments, each record
its own article), has no article to read: a second set of heads, the lone-segment heads,
reads only its own scores and its context's, and learned from the same training rows scored that
way, each row once with its context and once without. Reading a lone segment with the article
heads instead (its own scores standing in for its article's) cost 4-5 points of topic and stance
macro-F1 on the coverage test part (README, ablation).
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
        self.lone_topic_heads = self.lone_stance_head = None

    def fit(self, segment_scores: np.ndarray, context_scores: np.ndarray,
            no_context_scores: np.ndarray, article_ids, topics: np.ndarray,
            stances: np.ndarray) -> "ArticleStage":
        """`*_scores`: (n, n_topics + n_stances) first-stage probabilities, topics first, of
        each segment, of its context, and of an empty context (what a lone segment sent with
        no context has)."""
        self.topic_heads, self.stance_head = self._heads(
            features(segment_scores, context_scores, article_ids), topics, stances)
        lone = np.vstack([lone_features(segment_scores, context_scores),
                          lone_features(segment_scores, no_context_scores)])
        self.lone_topic_heads, self.lone_stance_head = self._heads(
            lone, np.vstack([topics, topics]), np.concatenate([stances, stances]))
        return self

    def _heads(self, x: np.ndarray, topics: np.ndarray, stances: np.ndarray):
        c = float(self.params["C"])
        topic_weight = "balanced" if self.params.get("balanced_topics") else None
        stance_weight = "balanced" if self.params.get("balanced_stance") else None
        topic_heads = [LogisticRegression(C=c, class_weight=topic_weight, max_iter=3000)
                       .fit(x, topics[:, j]) for j in range(topics.shape[1])]
        return topic_heads, LogisticRegression(C=c, class_weight=stance_weight,
                                               max_iter=3000).fit(x, stances)

    def apply(self, segment_scores, context_scores, article_ids, n_stances: int):
        """(topic probabilities, stance probabilities) after the article stage: the article
        heads for the rows of an article, the lone-segment heads for the rest (`lone_rows`)."""
        lone = (lone_rows(article_ids, len(segment_scores))
                if self.lone_topic_heads is not None
                else np.zeros(len(segment_scores), dtype=bool))  # a model saved before them
        in_article = ~lone
        ids = None if article_ids is None else np.asarray(article_ids, dtype=str)[in_article]
        parts = [(lone, lambda: lone_features(segment_scores[lone], context_scores[lone]),
                  self.lone_topic_heads, self.lone_stance_head),
                 (in_article, lambda: features(segment_scores[in_article],
                                               context_scores[in_article], ids),
                  self.topic_heads, self.stance_head)]
        topics = np.zeros((len(segment_scores), len(self.topic_heads)))
        stance = np.zeros((len(segment_scores), n_stances))
        for rows, x_of_rows, topic_heads, stance_head in parts:
            if rows.any():
                x = x_of_rows()
                topics[rows] = np.column_stack([h.predict_proba(x)[:, 1] for h in topic_heads])
                stance[np.ix_(rows, stance_head.classes_)] = stance_head.predict_proba(x)
        return topics, stance

    def save(self, directory: Path) -> None:
        pickled.dump({"topic_heads": self.topic_heads, "stance_head": self.stance_head,
                      "lone_topic_heads": self.lone_topic_heads,
                      "lone_stance_head": self.lone_stance_head}, Path(directory) / STAGE_FILE)

    @classmethod
    def load(cls, params: dict, directory: Path) -> "ArticleStage":
        stage = cls(params)
        parts = pickled.load(Path(directory) / STAGE_FILE)
        stage.topic_heads, stage.stance_head = parts["topic_heads"], parts["stance_head"]
        stage.lone_topic_heads = parts.get("lone_topic_heads")
        stage.lone_stance_head = parts.get("lone_stance_head")
        return stage


def features(segment_scores: np.ndarray, context_scores: np.ndarray, article_ids) -> np.ndarray:
    own, context = _log_odds(segment_scores), _log_odds(context_scores)
    if article_ids is None:
        return np.hstack([own, context, own, own])
    frame = pd.DataFrame(own).groupby(pd.Series(list(article_ids), dtype=str).values)
    return np.hstack([own, context, frame.transform("mean").to_numpy(),
                      frame.transform("max").to_numpy()])


def lone_rows(article_ids, n: int) -> np.ndarray:
    """The rows with no article to read: every row when there are no article ids, else the rows
    whose article id no other row shares (a file of ready-cut segments, each its own record)."""
    if article_ids is None:
        return np.ones(n, dtype=bool)
    ids = pd.Series(list(article_ids), dtype=str)
    return ~ids.duplicated(keep=False).to_numpy()


def lone_features(segment_scores: np.ndarray, context_scores: np.ndarray) -> np.ndarray:
    return np.hstack([_log_odds(segment_scores), _log_odds(context_scores)])


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
