"""The one interface every model family implements, and what they share.

A model turns texts (each with an optional article context: the headline and the segment
before it) into topic probabilities (n, n_topics) and stance probabilities (n, n_stances). An
optional relevance gate (`models/gate.py`) then takes the side and the war topics off segments
that are not about the war. Topic decisions use per-topic thresholds tuned on the dev split and
saved with the model; the stance is the most probable one. Families differ only in `_fit`,
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

    def __init__(self, taxonomy: Taxonomy, params: dict):
        self.taxonomy = taxonomy
        self.params = dict(params)
        self.thresholds = np.full(len(taxonomy.topics), 0.5)
        self.gate = None

    def fit(self, train: LabeledSplit, dev: LabeledSplit,
            on_epoch: MetricsCallback | None = None) -> None:
        """Train on `train` (and the relevance gate, when configured), then tune the topic
        thresholds on `dev`."""
        self._fit(train, dev, on_epoch)
        if self.params.get("gate"):
            from topicstance.models.gate import RelevanceGate

            self.gate = RelevanceGate(self.taxonomy, dict(self.params["gate"])).fit(train)
        topic_scores, _ = self.scores(dev.texts, dev.contexts)
        self.thresholds = tune_thresholds(topic_scores, dev.topics)

    def scores(self, texts: list[str], contexts: list[str] | None = None):
        """The family's probabilities, through the relevance gate when there is one."""
        topic_scores, stance_scores = self.predict_scores(list(texts), contexts)
        if self.gate is not None:
            topic_scores, stance_scores = self.gate.apply(list(texts), contexts, topic_scores,
                                                          stance_scores)
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

    def predict_frame(self, texts: list[str], contexts: list[str] | None = None) -> pd.DataFrame:
        """Decisions and scores, one row per text: the pyfunc's output."""
        topic_scores, stance_scores = self.scores(list(texts), contexts)
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
                "params": self.params, "thresholds": self.thresholds.tolist()}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        self._save(directory)
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
        model._load(Path(directory))
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
