"""The one interface every model family implements, and what they share.

A model turns texts (each with an optional article context: the headline and the segment
before it, and an optional article id) into topic probabilities (n, n_topics) and stance
probabilities (n, n_stances). An optional article stage (`models/article.py`) then reads each
segment's scores beside its context's and its article's, and an optional relevance gate
(`models/gate.py`) takes the side and the war topics off segments that are not about the war. Topic decisions use per-topic thresholds tuned on held-out scores
(`thresholds_on`) and saved with the model; the stance is the most probable one. Families differ only in `_fit`,
`predict_scores`, `_save` and `_load`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topicstance import drift
from topicstance.labels import Taxonomy

if TYPE_CHECKING:  # the corpus's type; models never import the corpus code itself
    from topicstance.corpus import LabeledSplit

META_FILE = "topicstance_model.json"
THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)

MetricsCallback = Callable[[dict[str, float], int], None]


def context(headline: str, previous: str) -> str:
    """A segment's article context: its headline and the segment before it (each once)."""
    headline, previous = (headline or "").strip(), (previous or "").strip()
    return headline if previous in ("", headline) else f"{headline}\n{previous}".strip()


class TopicStanceModel(ABC):
    family: str = ""
    needs_labels: bool = True  # False: it can be built with no labeled data (zero-shot)

    def __init__(self, taxonomy: Taxonomy, params: dict):
        self.taxonomy = taxonomy
        self.params = dict(params)
        self.thresholds = np.full(len(taxonomy.topics), 0.5)
        self.gate = None
        self.article_stage = None
        self.reference = None  # its predictions' distribution on dev: the drift reference

    def fit(self, train: LabeledSplit, dev: LabeledSplit,
            on_epoch: MetricsCallback | None = None) -> None:
        """Train on `train` (then the article stage and the relevance gate, when configured),
        then tune the topic thresholds (`_tune_thresholds`) and keep the distribution of the
        predictions on `dev` (drift.py)."""
        self._fit(train, dev, on_epoch)
        out_of_fold = None
        if self.params.get("article_stage"):
            self.article_stage, out_of_fold = self._fit_article_stage(train, dev)
        if self.params.get("gate"):
            from topicstance.models.gate import RelevanceGate

            self.gate = RelevanceGate(self.taxonomy, dict(self.params["gate"])).fit(train)
        topic_scores, stance_scores = self.scores(dev.texts, dev.contexts, dev.article_ids)
        self.thresholds = self._tune_thresholds(train, dev, topic_scores, out_of_fold)
        if len(dev):
            self.reference = drift.summary(self.taxonomy, topic_scores, stance_scores,
                                           self.thresholds)

    def _tune_thresholds(self, train: LabeledSplit, dev: LabeledSplit,
                         dev_topic_scores: np.ndarray, out_of_fold) -> np.ndarray:
        """Per-topic thresholds from the rows `thresholds_on` names:
        - `dev` (default): every dev row;
        - `real`: dev's real text only. Real copy scores less confidently than the written
          corpus that fills most of dev, so thresholds fit to written text sit too high for it;
        - `out_of_fold`: the training split's real text, scored through the article stage and
          the gate from the first-stage scores of the fold copies that never saw its articles:
          several times more real text, from more outlets, than dev holds."""
        mode = self.params.get("thresholds_on", "dev")
        if mode == "out_of_fold":
            if out_of_fold is None:
                raise ValueError("thresholds_on: out_of_fold needs model.article_stage")
            topics, stances = self.article_stage.apply(*out_of_fold, train.article_ids,
                                                       len(self.taxonomy.stances))
            if self.gate is not None:
                topics, _ = self.gate.apply(list(train.texts), train.contexts, topics, stances,
                                            train.article_ids)
            rows = train.real.astype(bool) if train.real is not None else np.ones(len(train), bool)
            return tune_thresholds(topics[rows], train.topics[rows])
        rows = np.ones(len(dev), dtype=bool)
        if mode == "real" and dev.real is not None and dev.real.any():
            rows = dev.real.astype(bool)
        return tune_thresholds(dev_topic_scores[rows], dev.topics[rows])

    def _fit_article_stage(self, train: LabeledSplit, dev: LabeledSplit):
        """The article stage learns from first-stage scores on text the family has not seen:
        copies of the family refit on article-grouped folds of `train` score the rest. Returns
        the stage and those out-of-fold (segment, context) scores, in `train`'s order."""
        from topicstance.models.article import ArticleStage, grouped_folds, take

        params = {k: v for k, v in self.params.items() if k not in ("article_stage", "gate")}
        segment_scores, context_scores = [], []
        held_out = []
        for fit_rows, held_rows in grouped_folds(train.article_ids,
                                                 int(self.params["article_stage"]["folds"])):
            copy = type(self)(self.taxonomy, params)
            copy._fit(take(train, fit_rows), dev, None)
            held = take(train, held_rows)
            segment_scores.append(np.hstack(copy.predict_scores(held.texts, held.contexts)))
            context_scores.append(np.hstack(copy.predict_scores(held.contexts)))
            held_out.append(held_rows)
        order = np.argsort(np.concatenate(held_out))
        out_of_fold = (np.vstack(segment_scores)[order], np.vstack(context_scores)[order])
        stage = ArticleStage(dict(self.params["article_stage"])).fit(
            *out_of_fold, train.article_ids, train.topics, train.stances)
        return stage, out_of_fold

    def scores(self, texts: list[str], contexts: list[str] | None = None,
               article_ids: list[str] | None = None):
        """The family's probabilities, through the article stage and the relevance gate when
        there are."""
        texts = list(texts)
        topic_scores, stance_scores = self.predict_scores(texts, contexts)
        if self.article_stage is not None and texts:
            contexts = list(contexts) if contexts is not None else [""] * len(texts)
            unique = {c: i for i, c in enumerate(dict.fromkeys(contexts))}  # scored once each
            context_scores = np.hstack(self.predict_scores(list(unique)))
            context_scores = context_scores[[unique[c] for c in contexts]]
            topic_scores, stance_scores = self.article_stage.apply(
                np.hstack([topic_scores, stance_scores]), context_scores, article_ids,
                len(self.taxonomy.stances))
        if self.gate is not None:
            topic_scores, stance_scores = self.gate.apply(list(texts), contexts, topic_scores,
                                                          stance_scores, article_ids)
        return topic_scores, stance_scores

    @abstractmethod
    def _fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch: MetricsCallback | None):
        ...

    @abstractmethod
    def predict_scores(self, texts: list[str], contexts: list[str] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities; `contexts` (one per text, may be empty strings) is optional."""

    def inference_settings(self) -> dict:
        """How inference runs here (e.g. the precision chosen for this CPU), for run records."""
        return {}

    def predict_frame(self, texts: list[str], contexts: list[str] | None = None,
                      article_ids: list[str] | None = None) -> pd.DataFrame:
        """Decisions and scores, one row per text: the pyfunc's output. With `article_ids`,
        the rows of one article are read together (the article stage); without, each text is
        its own article."""
        topic_scores, stance_scores = self.scores(list(texts), contexts, article_ids)
        decided = topic_scores >= self.thresholds
        frame = pd.DataFrame({
            "topics": [[t for t, on in zip(self.taxonomy.topics, row) if on] for row in decided],
            "stance": [self.taxonomy.stances[i] for i in stance_scores.argmax(axis=1)],
            "stance_score": stance_scores.max(axis=1).astype(float),
        })
        for j, topic in enumerate(self.taxonomy.topics):
            frame[f"score_{topic}"] = topic_scores[:, j].astype(float)
        for j, stance in enumerate(self.taxonomy.stances):
            frame[f"prob_{stance}"] = stance_scores[:, j].astype(float)
        return frame

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "taxonomy": self.taxonomy.to_dict(),
                "params": self.params, "thresholds": self.thresholds.tolist(),
                "reference": self.reference}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        self._save(directory)
        if self.article_stage is not None:
            self.article_stage.save(directory)
        if self.gate is not None:
            self.gate.save(directory)
        return directory

    @abstractmethod
    def _save(self, directory: Path) -> None:
        ...

    @classmethod
    def restore(cls, directory: Path, meta: dict) -> TopicStanceModel:
        model = cls(Taxonomy.from_dict(meta["taxonomy"]), meta["params"])
        model.thresholds = np.asarray(meta["thresholds"], dtype=float)
        model.reference = meta.get("reference")
        model._load(Path(directory))
        if model.params.get("article_stage"):
            from topicstance.models.article import ArticleStage

            model.article_stage = ArticleStage.load(dict(model.params["article_stage"]),
                                                    Path(directory))
        if model.params.get("gate"):
            from topicstance.models.gate import RelevanceGate

            model.gate = RelevanceGate.load(model.taxonomy, dict(model.params["gate"]),
                                            Path(directory))
        return model

    @abstractmethod
    def _load(self, directory: Path) -> None:
        ...


def tune_thresholds(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per topic, the grid threshold with the best dev F1 (ties go to the one nearest 0.5)."""
    thresholds = np.full(scores.shape[1], 0.5)
    for j in range(scores.shape[1]):
        if truth[:, j].sum() == 0:
            continue
        best = max(THRESHOLD_GRID, key=lambda t: (_f1(truth[:, j], scores[:, j] >= t), -abs(t - 0.5)))
        thresholds[j] = float(best)
    return thresholds


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum((truth == 1) & predicted))
    denominator = float(truth.sum() + predicted.sum())
    return 2 * tp / denominator if denominator else 0.0
