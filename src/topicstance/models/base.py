"""The one interface every model family implements, and what they share.

A model turns texts (each with an optional article context: the headline and the segment
before it, and an optional article id) into topic probabilities (n, n_topics) and stance
probabilities (n, n_stances). An optional article stage (`models/article.py`) then reads each
segment's scores beside its context's and its article's, the stance's priors may be shifted
(`stance_offsets`), and an optional relevance gate (`models/gate.py`) takes the side and the war
topics off segments that are not about the war. Topic decisions use per-topic thresholds tuned
on held-out scores (`thresholds_on`) and saved with the model; the stance is the most probable
one. Families differ only in `_fit`, `predict_scores`, `_save` and `_load`.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from topicstance import drift
from topicstance.labels import Taxonomy

if TYPE_CHECKING:  # the corpus's type; models never import the corpus code itself
    from topicstance.corpus import LabeledSplit

META_FILE = "topicstance_model.json"
THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)
# Log-prior shifts tried per stance: wider shifts (to 1.5) gained no stance macro-F1 in
# cross-validation and put a side on 1.2% of non-war segments against 0.9% (docs/experiment-log.md, stance priors).
OFFSET_GRID = np.round(np.arange(-0.5, 0.51, 0.25), 2)

MetricsCallback = Callable[[dict[str, float], int], None]


class OutOfFold(NamedTuple):
    """First-stage scores of the training rows by the fold copies that never saw them:
    (n, n_topics + n_stances) each, of the segment, of its context, and of an empty context."""
    segment: np.ndarray
    context: np.ndarray
    no_context: np.ndarray


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
        self.lone_thresholds = None  # for texts sent without an article id (`_tune_lone_thresholds`)
        self.stance_offsets = np.zeros(len(taxonomy.stances))  # log-prior shifts (`shift_stance`)
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

            self.gate = RelevanceGate(self.taxonomy, self._gate_params()).fit(train)
        if self.params.get("stance_offsets"):
            self.stance_offsets = self._tune_stance_offsets(train, out_of_fold)
        topic_scores, stance_scores = self.scores(dev.texts, dev.contexts, dev.article_ids)
        self.thresholds = self._tune_thresholds(train, dev, topic_scores, out_of_fold)
        if out_of_fold is not None and self.params.get("thresholds_on") == "out_of_fold":
            self.lone_thresholds = self._tune_lone_thresholds(train, out_of_fold)
        if len(dev):
            self.reference = drift.summary(self.taxonomy, topic_scores, stance_scores,
                                           self.thresholds)

    def _tune_thresholds(self, train: LabeledSplit, dev: LabeledSplit,
                         dev_topic_scores: np.ndarray, out_of_fold: OutOfFold | None
                         ) -> np.ndarray:
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
            topics, stances = self.article_stage.apply(out_of_fold.segment, out_of_fold.context,
                                                       train.article_ids,
                                                       len(self.taxonomy.stances))
            if self.gate is not None:
                topics, _ = self.gate.apply(list(train.texts), train.contexts, topics, stances,
                                            train.article_ids)
            rows = train.real.astype(bool) if train.real is not None else np.ones(len(train), bool)
            return self._limit_offtopic(tune_thresholds(topics[rows], train.topics[rows]),
                                        topics[rows], train, rows)
        rows = np.ones(len(dev), dtype=bool)
        if mode == "real" and dev.real is not None and dev.real.any():
            rows = dev.real.astype(bool)
        return tune_thresholds(dev_topic_scores[rows], dev.topics[rows])

    def _tune_lone_thresholds(self, train: LabeledSplit, out_of_fold: OutOfFold) -> np.ndarray:
        """Per-topic thresholds for texts sent without an article id, tuned on the real training
        rows as the lone-segment heads read them from the out-of-fold scores (each row once with
        its context, once without, as those heads learned), through the out-of-fold gate (which
        without an article judges each segment alone). A lone segment's scores spread otherwise
        than one read with its article: with shared thresholds, a smaller dev split moved
        `espionage_trial`'s from 0.65 to 0.75 and cost the lone path 5 points of topic F1 on the
        coverage test part (README, ablation)."""
        rows = train.real.astype(bool) if train.real is not None else np.ones(len(train), bool)
        if not rows.any():  # no real text: every training row counts
            rows = np.ones(len(train), bool)
        about_war = [np.ones(len(train))] * 2  # with its context, without
        if self.gate is not None:
            about_war = self._gate_out_of_fold(train, [train.contexts, None], None)
        scored = []
        for k, context_scores in enumerate((out_of_fold.context, out_of_fold.no_context)):
            topics, _ = self.article_stage.apply(out_of_fold.segment[rows], context_scores[rows],
                                                 None, len(self.taxonomy.stances))
            if self.gate is not None:
                topics[:, self.gate.gated_topics] *= self.gate.topic_weight(about_war[k][rows, None])
            scored.append(topics)
        scored = np.vstack(scored)
        return self._limit_offtopic(tune_thresholds(scored, np.vstack([train.topics[rows]] * 2)),
                                    scored, train, np.concatenate([rows, rows]))

    def _limit_offtopic(self, thresholds: np.ndarray, scores: np.ndarray, train: LabeledSplit,
                        rows: np.ndarray) -> np.ndarray:
        """`thresholds`, raised where needed so that at most `offtopic_war_topic_limit` of the
        tuning rows from articles not about the war get a gated (war) topic they do not carry.
        F1-best thresholds let a lone court-report sentence ("the defendant rejected the
        charges") of a non-war trial through as `espionage_trial`: F1 counts those few rows
        for little, the non-war limit counts each one (README, ablation). `scores` are the
        tuning rows' (`rows`, a mask over `train`, tiled when the rows were scored twice)."""
        limit = self.params.get("offtopic_war_topic_limit")
        if limit is None or self.gate is None or train.about_war is None:
            return thresholds
        tiles = len(rows) // len(train)
        offtopic = (np.tile(train.about_war, tiles)[rows] == 0)
        truth = np.tile(train.topics, (tiles, 1))[rows]
        return limit_offtopic(thresholds, scores, truth, offtopic, self.gate.gated_topics,
                              float(limit))

    def _tune_stance_offsets(self, train: LabeledSplit, out_of_fold: OutOfFold) -> np.ndarray:
        """Shifts of the stance's log-priors (`tune_stance_offsets`), tuned on the training
        split's real text as the article stage's fold copies scored it, through the gate. Real
        copy voices its side less plainly than the written corpus, so a model fit to both gives
        real text too few sides."""
        if out_of_fold is None:
            raise ValueError("model.stance_offsets needs model.article_stage")
        _, stances = self.article_stage.apply(out_of_fold.segment, out_of_fold.context,
                                              train.article_ids, len(self.taxonomy.stances))
        about_war = np.ones(len(train))
        if self.gate is not None:  # the gate's p on text it never saw: its own fold copies'
            about_war, = self._gate_out_of_fold(train, [train.contexts], train.article_ids)
        rows = train.real.astype(bool) if train.real is not None else np.ones(len(train), bool)
        reference = self.taxonomy.stances.index(self.params["stance_offsets"]["reference"])
        if not rows.any():  # no real text to tune on: no shift
            return np.zeros(len(self.taxonomy.stances))
        return tune_stance_offsets(stances[rows], about_war[rows], train.stances[rows], reference)

    def _gate_out_of_fold(self, train: LabeledSplit, context_sets: list, article_ids
                          ) -> list[np.ndarray]:
        """p(about the war) of every training row, once per list of contexts in `context_sets`
        (None: no context), from relevance-gate copies fitted on the article stage's folds
        without it: the full gate is far surer of its own training text than of unseen text."""
        from topicstance.models.article import take
        from topicstance.models.gate import RelevanceGate

        about_war = [np.ones(len(train)) for _ in context_sets]
        for fit_rows, held_rows in self._folds(train):
            gate = RelevanceGate(self.taxonomy, self._gate_params()).fit(take(train, fit_rows))
            texts = [train.texts[i] for i in held_rows]
            ids = None if article_ids is None else [article_ids[i] for i in held_rows]
            for p, contexts in zip(about_war, context_sets):
                given = None if contexts is None else [contexts[i] for i in held_rows]
                p[held_rows] = gate.about_war(texts, given, ids)
        return about_war

    def _fit_article_stage(self, train: LabeledSplit, dev: LabeledSplit):
        """The article stage learns from first-stage scores on text the family has not seen:
        copies of the family refit on grouped folds of `train` (`_folds`) score the rest.
        Returns the stage and those out-of-fold scores, in `train`'s order."""
        from topicstance.models.article import ArticleStage, take

        params = {k: v for k, v in self.params.items() if k not in ("article_stage", "gate")}
        segment_scores, context_scores, no_context_scores = [], [], []
        held_out = []
        for fit_rows, held_rows in self._folds(train):
            copy = type(self)(self.taxonomy, params)
            copy._fit(take(train, fit_rows), dev, None)
            held = take(train, held_rows)
            segment_scores.append(np.hstack(copy.predict_scores(held.texts, held.contexts)))
            context_scores.append(np.hstack(copy.predict_scores(held.contexts)))
            no_context_scores.append(np.repeat(np.hstack(copy.predict_scores([""])),
                                               len(held_rows), axis=0))
            held_out.append(held_rows)
        order = np.argsort(np.concatenate(held_out))
        out_of_fold = OutOfFold(*(np.vstack(scores)[order] for scores in
                                  (segment_scores, context_scores, no_context_scores)))
        stage = ArticleStage(dict(self.params["article_stage"])).fit(
            *out_of_fold, train.article_ids, train.topics, train.stances)
        return stage, out_of_fold

    def _folds(self, train: LabeledSplit):
        """The article stage's folds of `train`: grouped by article, or with
        `article_stage.folds_by: outlet` by the printing outlet where the split knows it. Then
        the fold copies score each outlet's text as they would an outlet never seen, as the
        text `make predict` meets mostly is (unseen outlets' copy scores less confidently), and
        the stage and the out-of-fold thresholds learn from that."""
        from topicstance.models.article import grouped_folds

        stage = self.params["article_stage"]
        by = stage.get("folds_by", "article")
        if by not in ("article", "outlet"):
            raise ValueError(f"model.article_stage.folds_by must be article or outlet, not {by!r}")
        outlets = train.outlets if by == "outlet" else None
        return grouped_folds(train.article_ids, int(stage["folds"]), outlets)

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
        stance_scores = shift_stance(stance_scores, self.stance_offsets)
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
        its own article, read by the article stage's lone-segment heads (as is the only row
        of an article)."""
        topic_scores, stance_scores = self.scores(list(texts), contexts, article_ids)
        thresholds = np.tile(self.thresholds, (len(topic_scores), 1))
        if self.lone_thresholds is not None:  # the rows the lone-segment heads read
            from topicstance.models.article import lone_rows

            thresholds[lone_rows(article_ids, len(topic_scores))] = self.lone_thresholds
        decided = topic_scores >= thresholds
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
                "lone_thresholds": (None if self.lone_thresholds is None
                                    else self.lone_thresholds.tolist()),
                "stance_offsets": self.stance_offsets.tolist(),
                "reference": self.reference}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        self._save(directory)
        if self.article_stage is not None:
            self.article_stage.save(directory)
        if self.gate is not None:
            self.gate.save(directory)
        return directory

    def _gate_params(self) -> dict:
        """The gate's settings, with the model's thread count (a large batch in parts)."""
        return {**self.params["gate"], "threads": self.params.get("threads")}

    @abstractmethod
    def _save(self, directory: Path) -> None:
        ...

    @classmethod
    def restore(cls, directory: Path, meta: dict) -> TopicStanceModel:
        model = cls(Taxonomy.from_dict(meta["taxonomy"]), meta["params"])
        model.thresholds = np.asarray(meta["thresholds"], dtype=float)
        if meta.get("lone_thresholds") is not None:
            model.lone_thresholds = np.asarray(meta["lone_thresholds"], dtype=float)
        model.stance_offsets = np.asarray(
            meta.get("stance_offsets") or np.zeros(len(model.taxonomy.stances)), dtype=float)
        model.reference = meta.get("reference")
        model._load(Path(directory))
        if model.params.get("article_stage"):
            from topicstance.models.article import ArticleStage

            model.article_stage = ArticleStage.load(dict(model.params["article_stage"]),
                                                    Path(directory))
        if model.params.get("gate"):
            from topicstance.models.gate import RelevanceGate

            model.gate = RelevanceGate.load(model.taxonomy, model._gate_params(),
                                            Path(directory))
        return model

    @abstractmethod
    def _load(self, directory: Path) -> None:
        ...


def shift_stance(probabilities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Stance probabilities with each class's log-probability shifted by `offsets`, renormalised
    (a change of class priors); all-zero offsets return them unchanged."""
    if not np.any(offsets):
        return probabilities
    shifted = probabilities * np.exp(offsets)
    return shifted / shifted.sum(axis=1, keepdims=True)


def tune_stance_offsets(stances: np.ndarray, about_war: np.ndarray, truth: np.ndarray,
                        reference: int) -> np.ndarray:
    """The log-prior shifts (`OFFSET_GRID` for each stance but `reference`) with the best stance
    macro-F1 once the gate has blended each row towards `reference` by 1 - p(about the war);
    ties go to the smallest shifts."""
    n_stances = stances.shape[1]
    others = [j for j in range(n_stances) if j != reference]
    best, best_offsets = -1.0, np.zeros(n_stances)
    for shifts in itertools.product(OFFSET_GRID, repeat=len(others)):
        offsets = np.zeros(n_stances)
        offsets[others] = shifts
        gated = about_war[:, None] * shift_stance(stances, offsets)
        gated[:, reference] += 1 - about_war
        score = f1_score(truth, gated.argmax(axis=1), average="macro",
                         labels=list(range(n_stances)), zero_division=0)
        if score > best + 1e-9 or (abs(score - best) <= 1e-9
                                   and np.abs(offsets).sum() < np.abs(best_offsets).sum()):
            best, best_offsets = score, offsets
    return best_offsets


def tune_thresholds(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per topic, the grid threshold with the best dev F1 (ties go to the one nearest 0.5)."""
    thresholds = np.full(scores.shape[1], 0.5)
    for j in range(scores.shape[1]):
        if truth[:, j].sum() == 0:
            continue
        best = max(THRESHOLD_GRID, key=lambda t: (_f1(truth[:, j], scores[:, j] >= t), -abs(t - 0.5)))
        thresholds[j] = float(best)
    return thresholds


def limit_offtopic(thresholds: np.ndarray, scores: np.ndarray, truth: np.ndarray,
                   offtopic: np.ndarray, gated: list[int], limit: float) -> np.ndarray:
    """Raise the `gated` topics' thresholds until at most `limit` of the `offtopic` rows get a
    gated topic that `truth` does not give them: each time, of the gated topics' next grid
    thresholds that clear an off-topic row, the one that loses the least F1 per row it clears."""
    thresholds = thresholds.copy()
    truth = truth.astype(bool)

    def wrongly_tagged(th):
        wrong = (scores[:, gated] >= th[gated]) & ~truth[:, gated]
        return int(wrong[offtopic].any(axis=1).sum())

    while offtopic.any() and wrongly_tagged(thresholds) > limit * offtopic.sum():
        now, best = wrongly_tagged(thresholds), None
        for j in gated:
            for higher in THRESHOLD_GRID[THRESHOLD_GRID > thresholds[j] + 1e-9]:
                stepped = thresholds.copy()
                stepped[j] = higher
                cleared = now - wrongly_tagged(stepped)
                if cleared > 0:
                    lost = (_f1(truth[:, j], scores[:, j] >= thresholds[j])
                            - _f1(truth[:, j], scores[:, j] >= higher))
                    if best is None or lost / cleared < best[0]:
                        best = (lost / cleared, stepped)
                    break
        if best is None:  # the grid's top leaves these rows tagged: as near as it goes
            break
        thresholds = best[1]
    return thresholds


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum((truth == 1) & predicted))
    denominator = float(truth.sum() + predicted.sum())
    return 2 * tp / denominator if denominator else 0.0
