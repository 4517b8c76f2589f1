"""Zero-shot: labels from the similarity of a segment to each label's description.

No labeled data: the packaged sentence encoder embeds every topic and stance description of the
taxonomy (`conf/labels/<name>.yaml`) once, and each segment once; a topic's probability is a
logistic function of the cosine similarity (`topic_center`: the similarity that counts as a
coin toss, `temperature`: how sharply it rises), and the stances share a softmax over their
similarities. Good enough for a first labeling queue on a new taxonomy, not for reporting.
"""

from pathlib import Path

import numpy as np

from topicstance.models.minilm import ENCODER_DIR, MiniLMLinearModel

DESCRIPTIONS_FILE = "label_embeddings.npz"


class ZeroShotModel(MiniLMLinearModel):
    family = "zeroshot"
    needs_labels = False

    def _label_texts(self, group: str) -> list[str]:
        """`name: description` of every label in a group, in taxonomy order."""
        described = {d["name"]: d.get("description") or "" for d in self.params["labels"][group]}
        names = self.taxonomy.topics if group == "topics" else self.taxonomy.stances
        return [f"{name.replace('_', ' ')}: {described.get(name, '')}".strip() for name in names]

    def _fit(self, train, dev, on_epoch=None) -> None:
        """Nothing to learn: load the encoder and embed the label descriptions."""
        self._load_encoder(self.params["pretrained_path"])
        self._embed_labels()

    def _embed_labels(self) -> None:
        self.topic_vectors = _unit(self.embed(self._label_texts("topics")))
        self.stance_vectors = _unit(self.embed(self._label_texts("stances")))

    def predict_scores(self, texts, contexts=None):
        n_topics, n_stances = len(self.taxonomy.topics), len(self.taxonomy.stances)
        if not len(texts):
            return np.zeros((0, n_topics)), np.zeros((0, n_stances))
        segments = _unit(self.embed(list(texts)))
        temperature = float(self.params["temperature"])
        topic_similarity = segments @ self.topic_vectors.T
        topics = 1.0 / (1.0 + np.exp(-(topic_similarity - float(self.params["topic_center"]))
                                     / temperature))
        stance_logits = segments @ self.stance_vectors.T / temperature
        stance_logits -= stance_logits.max(axis=1, keepdims=True)
        stances = np.exp(stance_logits)
        return topics, stances / stances.sum(axis=1, keepdims=True)

    def _save(self, directory: Path) -> None:
        self._save_encoder(directory, self.encoder)
        np.savez(directory / DESCRIPTIONS_FILE, topics=self.topic_vectors,
                 stances=self.stance_vectors)

    def _load(self, directory: Path) -> None:
        self._load_encoder(str(directory / ENCODER_DIR))
        vectors = np.load(directory / DESCRIPTIONS_FILE)
        self.topic_vectors, self.stance_vectors = vectors["topics"], vectors["stances"]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9, None)
