"""An equal-weight average of other models' probabilities.

TF-IDF knows the exact words of the training data; the fine-tuned encoder knows meanings it never
saw written that way. On real pages their average beats either alone, mostly on stance (README,
"Comparison"). Members are any families, configured under `model.members.<name>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topicstance.models.base import MetricsCallback, TopicStanceModel

if TYPE_CHECKING:
    from topicstance.corpus import LabeledSplit


class EnsembleModel(TopicStanceModel):
    family = "ensemble"

    def __init__(self, taxonomy, params):
        from topicstance.models import build_from_params

        super().__init__(taxonomy, params)
        self.members = {name: build_from_params(member, taxonomy)
                        for name, member in self.params["members"].items()}

    def set_precision(self, precision: str) -> None:
        """Inference precision of the members that have one (the encoders)."""
        for member in self.members.values():
            if hasattr(member, "set_precision"):
                member.set_precision(precision)

    def inference_settings(self) -> dict:
        settings = {}
        for member in self.members.values():
            settings.update(member.inference_settings())
        return settings

    def _fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch: MetricsCallback | None):
        for member in self.members.values():
            member.fit(train, dev, on_epoch)

    def predict_scores(self, texts, contexts=None):
        scores = [member.predict_scores(texts, contexts) for member in self.members.values()]
        return (np.mean([topics for topics, _ in scores], axis=0),
                np.mean([stances for _, stances in scores], axis=0))

    def _save(self, directory: Path) -> None:
        for name, member in self.members.items():
            member.save(directory / name)

    def _load(self, directory: Path) -> None:
        from topicstance.models import load_model

        self.members = {name: load_model(directory / name) for name in self.members}
