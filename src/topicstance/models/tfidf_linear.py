"""Word and character n-gram TF-IDF with logistic-regression heads: the fast baseline.

With `context_weight` > 0 the article context (headline and previous segment) adds its own word
n-gram block, scaled by that weight, so "these steps" under a sanctions headline reads as
sanctions while the segment's own words still count most.

With `threads` > 1 a large batch is scored in that many parts at once (parts.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import hstack
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion

from topicstance import pickled
from topicstance.models.base import TopicStanceModel
from topicstance.models.parts import in_parts
from topicstance.ngrams import FastTfidfVectorizer

if TYPE_CHECKING:
    from topicstance.corpus import LabeledSplit

WEIGHTS_FILE = "tfidf_linear.pkl"


class TfidfLinearModel(TopicStanceModel):
    family = "tfidf_linear"

    def _fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch=None) -> None:
        p = self.params
        self.features = FeatureUnion([
            ("word", FastTfidfVectorizer(ngram_range=(1, int(p["word_ngram_max"])),
                                         min_df=int(p["min_df"]), sublinear_tf=True,
                                         strip_accents="unicode", lowercase=True)),
            ("char", FastTfidfVectorizer(analyzer="char_wb", ngram_range=tuple(p["char_ngram"]),
                                         min_df=int(p["min_df"]), sublinear_tf=True, lowercase=True,
                                         max_features=int(p["max_char_features"]))),
        ])
        self.context_features = None
        if float(p.get("context_weight", 0)) > 0 and train.contexts is not None:
            self.context_features = FastTfidfVectorizer(
                ngram_range=(1, int(p["word_ngram_max"])), min_df=2, sublinear_tf=True,
                strip_accents="unicode", lowercase=True).fit(train.contexts)
        self.features.fit(train.texts)
        x = self._x(train.texts, train.contexts)
        weight = "balanced" if p["class_weight_balanced"] else None
        self.topic_head = OneVsRestClassifier(
            LogisticRegression(C=float(p["C"]), class_weight=weight, max_iter=2000))
        self.topic_head.fit(x, train.topics)
        self.stance_head = LogisticRegression(C=float(p["C"]), class_weight=weight, max_iter=2000)
        self.stance_head.fit(x, train.stances)
        self._stack_heads()

    def _stack_heads(self) -> None:
        """Every head's coefficients side by side, so that scoring is one sparse product: each
        `predict_proba` validates and multiplies the batch's matrix again (four topic heads and
        the stance head: 2.5x slower than one product, a tenth of the model's inference time).
        None where a head is not a plain linear one (a topic with one class in training, a
        stance head with two classes): `predict_proba` then scores as usual."""
        topic_heads, stance = self.topic_head.estimators_, self.stance_head
        if not all(hasattr(h, "coef_") for h in topic_heads) or len(stance.classes_) < 3:
            self._stacked_heads = None
            return
        coef = np.vstack([h.coef_ for h in topic_heads] + [stance.coef_])
        intercept = np.concatenate([h.intercept_ for h in topic_heads] + [stance.intercept_])
        self._stacked_heads = (np.ascontiguousarray(coef.T), intercept, len(topic_heads))

    def _head_probabilities(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(topic probabilities, stance probabilities over the stance head's classes), as the
        heads' `predict_proba` give them."""
        if self._stacked_heads is None:
            return self.topic_head.predict_proba(x), self.stance_head.predict_proba(x)
        coef, intercept, n_topics = self._stacked_heads
        logits = x @ coef + intercept
        return expit(logits[:, :n_topics]), softmax(logits[:, n_topics:], axis=1)

    def _x(self, texts: list[str], contexts: list[str] | None):
        x = self.features.transform(texts)
        if self.context_features is None:
            return x
        contexts = contexts if contexts is not None else [""] * len(texts)
        weight = float(self.params["context_weight"])
        return hstack([x, weight * self.context_features.transform(contexts)]).tocsr()

    def predict_scores(self, texts, contexts=None) -> tuple[np.ndarray, np.ndarray]:
        return in_parts(self._scores, list(texts),
                        list(contexts) if contexts is not None else None,
                        self.params.get("threads"))

    def _scores(self, texts: list[str], contexts: list[str] | None):
        topics, sides = self._head_probabilities(self._x(texts, contexts))
        stance = np.zeros((len(texts), len(self.taxonomy.stances)))
        stance[:, self.stance_head.classes_] = sides
        return topics, stance

    def _save(self, directory: Path) -> None:
        pickled.dump({"features": self.features, "context_features": self.context_features,
                     "topic_head": self.topic_head, "stance_head": self.stance_head},
                    directory / WEIGHTS_FILE)

    def _load(self, directory: Path) -> None:
        parts = pickled.load(directory / WEIGHTS_FILE)
        self.features, self.topic_head = parts["features"], parts["topic_head"]
        self.context_features = parts.get("context_features")
        self.stance_head = parts["stance_head"]
        self._stack_heads()
