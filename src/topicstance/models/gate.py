"""Relevance gate: is this segment about the Russia-Ukraine war at all?

Real coverage showed the models giving sides to heated climate copy and war topics to tariffs
between African states. The gate is a TF-IDF logistic regression on the segment and its article
context, trained to tell segments of war articles from segments of articles that are not about
the war (hard negatives: the coverage corpus's non-war articles, which share the war's
vocabulary). Its probability p softly gates the model's output: the stance moves towards
`neutral` and the gated topics towards 0 as p falls, so a confident "not about the war" takes
the side and the war topics off, and an unsure gate changes little.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import hstack
from sklearn.linear_model import LogisticRegression

from topicstance import pickled
from topicstance.labels import Taxonomy
from topicstance.models.parts import in_parts
from topicstance.ngrams import FastTfidfVectorizer

GATE_FILE = "relevance_gate.pkl"


class RelevanceGate:
    def __init__(self, taxonomy: Taxonomy, params: dict):
        self.taxonomy = taxonomy
        self.params = params
        self.neutral = taxonomy.stances.index(params["neutral_stance"])
        self.gated_topics = [taxonomy.topics.index(t) for t in params["topics"]]

    def fit(self, train) -> "RelevanceGate":
        """Learns from `train.about_war` (per article, set by the training job); without it,
        from the labels: a segment with a side or a gated topic is about the war."""
        about_war = train.about_war
        if about_war is None:
            about_war = ((train.stances != self.neutral)
                         | train.topics[:, self.gated_topics].any(axis=1)).astype(int)
        if len(set(about_war.tolist())) < 2:
            raise ValueError("the relevance gate needs training texts of both kinds "
                             "(about the war and not)")
        self.text_features = FastTfidfVectorizer(ngram_range=(1, 2), min_df=2,
                                                 sublinear_tf=True, strip_accents="unicode")
        self.context_features = FastTfidfVectorizer(ngram_range=(1, 2), min_df=2,
                                                    sublinear_tf=True, strip_accents="unicode")
        contexts = train.contexts or [""] * len(train.texts)
        self.text_features.fit(train.texts)
        self.context_features.fit(contexts)
        self.classifier = LogisticRegression(C=float(self.params["C"]), class_weight="balanced",
                                             max_iter=3000)
        self.classifier.fit(self._x(train.texts, contexts), about_war)
        return self

    def probability(self, texts: list[str], contexts: list[str] | None) -> np.ndarray:
        """P(about the war) for each text (a large batch in `threads` parts at once)."""
        contexts = list(contexts) if contexts else [""] * len(texts)
        return in_parts(lambda t, c: self.classifier.predict_proba(self._x(t, c))[:, 1],
                        list(texts), contexts, self.params.get("threads"))

    def about_war(self, texts, contexts, article_ids=None) -> np.ndarray:
        """The p each text is gated with: its own, blended with its article's mean."""
        p = self.probability(texts, contexts)
        weight = float(self.params.get("article_weight", 0.0))
        if weight and article_ids is not None:
            # A spy trial in Taiwan reads like the war's segment by segment; its article, as a
            # whole, does not: blend each segment's p with its article's mean.
            article_mean = pd.Series(p).groupby(np.asarray(article_ids, dtype=str)).transform("mean")
            p = (1 - weight) * p + weight * article_mean.to_numpy()
        return p

    def topic_weight(self, p: np.ndarray) -> np.ndarray:
        """The share of a war topic's score let through at gate probability `p`: p itself, or p
        recalibrated as sigmoid(topic_slope * logit(p) + topic_shift). On outlets it never saw
        the gate is unsure of war copy (a Bulgarian spy ring sentenced in London for Russia: p
        0.55), and p itself then halved such segments' topic scores, while the thresholds were
        tuned through the p of text the gate had trained on (near 1). The stance keeps p."""
        slope = float(self.params.get("topic_slope", 1.0))
        shift = float(self.params.get("topic_shift", 0.0))
        if slope == 1.0 and shift == 0.0:
            return p
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return 1 / (1 + np.exp(-(slope * np.log(p / (1 - p)) + shift)))

    def apply(self, texts, contexts, topic_scores: np.ndarray, stance_scores: np.ndarray,
              article_ids=None):
        if not len(texts):
            return topic_scores, stance_scores
        p = self.about_war(texts, contexts, article_ids)[:, None]
        topics = topic_scores.copy()
        topics[:, self.gated_topics] *= self.topic_weight(p)
        neutral = np.zeros_like(stance_scores)
        neutral[:, self.neutral] = 1.0
        return topics, p * stance_scores + (1 - p) * neutral

    def _x(self, texts, contexts):
        weight = float(self.params["context_weight"])
        return hstack([self.text_features.transform(texts),
                       weight * self.context_features.transform(contexts)]).tocsr()

    def save(self, directory: Path) -> None:
        pickled.dump({"text": self.text_features, "context": self.context_features,
                     "classifier": self.classifier}, Path(directory) / GATE_FILE)

    @classmethod
    def load(cls, taxonomy: Taxonomy, params: dict, directory: Path) -> "RelevanceGate":
        gate = cls(taxonomy, params)
        parts = pickled.load(Path(directory) / GATE_FILE)
        gate.text_features, gate.context_features = parts["text"], parts["context"]
        gate.classifier = parts["classifier"]
        return gate
