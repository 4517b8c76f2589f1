"""The taxonomy (topic and stance names) built from `conf/labels`, and label checks against it."""

import hashlib
import json
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Taxonomy:
    name: str
    topics: tuple[str, ...]
    stances: tuple[str, ...]
    no_topic: str
    no_side: str | None = None  # the stance that takes no side, if the taxonomy has one

    @classmethod
    def from_config(cls, cfg) -> "Taxonomy":
        return cls(
            name=str(cfg.name),
            topics=tuple(str(t.name) for t in cfg.topics),
            stances=tuple(str(s.name) for s in cfg.stances),
            no_topic=str(cfg.no_topic),
            no_side=str(cfg.no_side) if cfg.get("no_side") else None,
        )

    def to_dict(self) -> dict:
        return {"name": self.name, "topics": list(self.topics), "stances": list(self.stances),
                "no_topic": self.no_topic, "no_side": self.no_side}

    @classmethod
    def from_dict(cls, d: dict) -> "Taxonomy":
        return cls(d["name"], tuple(d["topics"]), tuple(d["stances"]), d["no_topic"],
                   d.get("no_side"))

    def digest(self) -> str:
        """Short fingerprint of the name and the label lists: models with the same digest speak
        the same labels (the registry refuses to swap a champion across digests). `no_side`
        names one of those labels, so it is left out: models trained before it existed keep
        their digest."""
        labels = {k: v for k, v in self.to_dict().items() if k != "no_side"}
        text = json.dumps(labels, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def label_errors(self, topics, stance) -> list[str]:
        """Why a (topics, stance) pair breaks the taxonomy; empty when it is valid."""
        errors = []
        if not isinstance(topics, list):
            errors.append(f"'topics' must be a list, got {type(topics).__name__}")
        else:
            unknown = [t for t in topics if t not in self.topics]
            if unknown:
                errors.append(f"unknown topic(s) {unknown}; allowed: {list(self.topics)} "
                              f"(empty list = {self.no_topic})")
            if len(set(map(str, topics))) != len(topics):
                errors.append("'topics' lists a topic twice")
        if stance not in self.stances:
            errors.append(f"unknown stance {stance!r}; allowed: {list(self.stances)}")
        return errors

    def topics_to_matrix(self, topic_lists) -> np.ndarray:
        """Multi-hot matrix (n, n_topics) in taxonomy order."""
        index = {t: i for i, t in enumerate(self.topics)}
        out = np.zeros((len(topic_lists), len(self.topics)), dtype=np.int64)
        for row, topics in enumerate(topic_lists):
            for t in topics:
                out[row, index[t]] = 1
        return out

    def stances_to_index(self, stances) -> np.ndarray:
        index = {s: i for i, s in enumerate(self.stances)}
        return np.array([index[s] for s in stances], dtype=np.int64)
