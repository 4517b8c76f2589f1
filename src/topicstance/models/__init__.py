"""Model families by name: `model.family` in config picks one (conf/model/<name>.yaml)."""

import importlib
import json
from pathlib import Path

from omegaconf import OmegaConf

from topicstance.labels import Taxonomy
from topicstance.models.base import META_FILE, TopicStanceModel

# Imported on first use, so a TF-IDF run never pays for importing torch.
FAMILIES = {
    "tfidf_linear": "topicstance.models.tfidf_linear:TfidfLinearModel",
    "minilm_linear": "topicstance.models.minilm:MiniLMLinearModel",
    "minilm_finetune": "topicstance.models.minilm:MiniLMFinetuneModel",
    "ensemble": "topicstance.models.ensemble:EnsembleModel",
    "zeroshot": "topicstance.models.zeroshot:ZeroShotModel",
}


def model_class(family: str) -> type[TopicStanceModel]:
    if family not in FAMILIES:
        raise ValueError(f"unknown model.family {family!r}; known: {sorted(FAMILIES)}")
    module, name = FAMILIES[family].split(":")
    return getattr(importlib.import_module(module), name)


def build_model(model_cfg, taxonomy: Taxonomy) -> TopicStanceModel:
    return build_from_params(OmegaConf.to_container(model_cfg, resolve=True), taxonomy)


def build_from_params(params: dict, taxonomy: Taxonomy) -> TopicStanceModel:
    """A model from a plain dict of its config: `family` plus that family's settings."""
    params = dict(params)
    return model_class(params.pop("family"))(taxonomy, params)


def load_model(directory: Path) -> TopicStanceModel:
    meta = json.loads((Path(directory) / META_FILE).read_text())
    return model_class(meta["family"]).restore(directory, meta)


__all__ = ["TopicStanceModel", "build_from_params", "build_model", "load_model", "model_class"]
