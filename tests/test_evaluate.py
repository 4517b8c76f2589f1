"""Metrics on hand-made arrays with known answers, threshold tuning, the model interface."""

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_corpus
from topicstance import corpus, plots
from topicstance.labels import Taxonomy
from topicstance.metrics import compute_metrics, report
from topicstance.models import build_model, load_model
from topicstance.models.base import (
    THRESHOLD_GRID,
    limit_offtopic,
    shift_stance,
    tune_stance_offsets,
    tune_thresholds,
)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from conftest import compose_config

    return compose_config("train", tmp_path_factory.mktemp("exp"))


@pytest.fixture(scope="module")
def taxonomy(cfg):
    return Taxonomy.from_config(cfg.labels)


# Six segments, the taxonomy's four topics in order; row 3 is `other` (no topic).
TRUE_TOPICS = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1],
                        [1, 0, 0, 0]])
PRED_TOPICS = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 1],
                        [1, 0, 0, 0]])
TRUE_STANCE = np.array([0, 0, 1, 2, 2, 0])
PRED_STANCE = np.array([0, 1, 1, 2, 0, 2])


def test_compute_metrics_known_answers(taxonomy):
    assert len(taxonomy.topics) == 4 and len(taxonomy.stances) == 3
    m = compute_metrics(taxonomy, TRUE_TOPICS, PRED_TOPICS, TRUE_STANCE, PRED_STANCE)
    t, s = taxonomy.topics, taxonomy.stances
    # topics: t0 3 TP; t1 1 TP + 1 FN; t2 1 TP; t3 1 TP + 1 FP -> micro 2*6 / (2*6 + 1 + 1)
    assert m["topic_micro_f1"] == pytest.approx(6 / 7, abs=1e-6)
    assert m[f"topic_f1/{t[0]}"] == pytest.approx(1.0)
    assert m[f"topic_f1/{t[1]}"] == pytest.approx(2 / 3, abs=1e-6)
    assert m[f"topic_f1/{t[2]}"] == pytest.approx(1.0)
    assert m[f"topic_f1/{t[3]}"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["topic_macro_f1"] == pytest.approx(5 / 6, abs=1e-6)
    # stances: s0 P=1/2 R=1/3; s1 P=1/2 R=1; s2 P=1/2 R=1/2
    assert m[f"stance_f1/{s[0]}"] == pytest.approx(0.4)
    assert m[f"stance_f1/{s[1]}"] == pytest.approx(2 / 3, abs=1e-6)
    assert m[f"stance_f1/{s[2]}"] == pytest.approx(0.5)
    assert m["stance_macro_f1"] == pytest.approx(47 / 90, abs=1e-6)
    assert m["stance_accuracy"] == pytest.approx(0.5)
    assert m["mean_macro_f1"] == pytest.approx(61 / 90, abs=1e-6)
    # sided rows 0, 1, 2, 5: row 1 flipped to the other side, row 5 missed (no side)
    assert m["stance_side_flip_rate"] == pytest.approx(0.25)
    assert m["stance_side_flip_error_share"] == pytest.approx(0.5)
    assert set(m) == ({"topic_micro_f1", "topic_macro_f1", "stance_macro_f1", "stance_accuracy",
                       "mean_macro_f1", "stance_side_flip_rate", "stance_side_flip_error_share"}
                      | {f"topic_f1/{x}" for x in t} | {f"stance_f1/{x}" for x in s})
    assert all(isinstance(v, float) for v in m.values())


def test_other_is_no_label(taxonomy):
    base = compute_metrics(taxonomy, TRUE_TOPICS, PRED_TOPICS, TRUE_STANCE, PRED_STANCE)
    assert f"topic_f1/{taxonomy.no_topic}" not in base
    # More correctly predicted `other` rows change no topic score: there is nothing to hit.
    none = np.zeros((3, 4), dtype=int)
    more = compute_metrics(taxonomy, np.vstack([TRUE_TOPICS, none]),
                           np.vstack([PRED_TOPICS, none]),
                           np.r_[TRUE_STANCE, [2, 2, 2]], np.r_[PRED_STANCE, [2, 2, 2]])
    for key in ["topic_micro_f1", "topic_macro_f1"] + [f"topic_f1/{x}" for x in taxonomy.topics]:
        assert more[key] == base[key], key
    # A topic predicted on an `other` row is a false positive: micro 2*6 / (2*6 + 2 + 1).
    wrong = PRED_TOPICS.copy()
    wrong[3, 0] = 1
    m = compute_metrics(taxonomy, TRUE_TOPICS, wrong, TRUE_STANCE, PRED_STANCE)
    assert m["topic_micro_f1"] == pytest.approx(0.8, abs=1e-6)
    assert m[f"topic_f1/{taxonomy.topics[0]}"] == pytest.approx(6 / 7, abs=1e-6)


def test_perfect_predictions_score_one(taxonomy):
    m = compute_metrics(taxonomy, TRUE_TOPICS, TRUE_TOPICS, TRUE_STANCE, TRUE_STANCE)
    flips = {k: m.pop(k) for k in ("stance_side_flip_rate", "stance_side_flip_error_share")}
    assert all(v == pytest.approx(1.0) for v in m.values()), m
    assert flips == {"stance_side_flip_rate": 0.0, "stance_side_flip_error_share": 0.0}


def test_side_flips_need_a_no_side_stance(taxonomy):
    """The no-side stance comes from the taxonomy's config, not from a name in the code: a
    taxonomy without one reports no flips, and renaming it moves which rows count as sided."""
    assert taxonomy.no_side == "neutral"
    plain = Taxonomy(taxonomy.name, taxonomy.topics, taxonomy.stances, taxonomy.no_topic)
    m = compute_metrics(plain, TRUE_TOPICS, PRED_TOPICS, TRUE_STANCE, PRED_STANCE)
    assert "stance_side_flip_rate" not in m
    # with the second stance as the no-side one, rows 0, 1, 3, 4, 5 are sided: rows 4 and 5
    # flipped, row 1 missed
    other = Taxonomy(taxonomy.name, taxonomy.topics, taxonomy.stances, taxonomy.no_topic,
                     no_side=taxonomy.stances[1])
    m = compute_metrics(other, TRUE_TOPICS, PRED_TOPICS, TRUE_STANCE, PRED_STANCE)
    assert m["stance_side_flip_rate"] == pytest.approx(0.4)
    assert m["stance_side_flip_error_share"] == pytest.approx(2 / 3, abs=1e-6)
    # no_side leaves the digest alone: models saved before it existed keep theirs
    assert plain.digest() == taxonomy.digest() == Taxonomy.from_dict(
        {k: v for k, v in taxonomy.to_dict().items() if k != "no_side"}).digest()


def test_report_and_figure_name_every_label(taxonomy):
    text = report(taxonomy, TRUE_TOPICS, PRED_TOPICS, TRUE_STANCE, PRED_STANCE)
    for name in taxonomy.topics + taxonomy.stances:
        assert name in text
    confusion = plots.stance_confusion(taxonomy, TRUE_STANCE, PRED_STANCE)
    ax = confusion.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(taxonomy.stances)
    # Each true stance's row sums to 1 (s0: 1 of 3 right, 1 as s1, 1 as s2).
    shares = ax.images[0].get_array()
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert shares[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    bars = plots.topic_scores(taxonomy, TRUE_TOPICS, PRED_TOPICS).axes[0]
    assert len(bars.patches) == 3 * len(taxonomy.topics)  # precision, recall, F1 per topic
    probs = np.eye(3)[PRED_STANCE] * 0.6 + 0.4 / 3
    curve = plots.stance_reliability(taxonomy, TRUE_STANCE, probs).axes[0]
    assert {line.get_label() for line in curve.lines} == {"calibrated", *taxonomy.stances}


# ---- thresholds --------------------------------------------------------------------------------

def test_tune_thresholds_known_answers():
    truth = np.array([[1, 1, 0, 1, 0],
                      [1, 1, 0, 0, 0],
                      [0, 0, 0, 1, 0],
                      [0, 0, 0, 0, 0]])
    scores = np.array([[0.3, 0.8, 0.7, 0.9, 0.0],
                       [0.3, 0.8, 0.2, 0.1, 0.0],
                       [0.1, 0.6, 0.9, 0.4, 0.0],
                       [0.1, 0.6, 0.1, 0.6, 0.0]])
    th = tune_thresholds(scores, truth)
    assert th.shape == (5,)
    # col 0: perfect at 0.15..0.30 -> the one nearest 0.5 is 0.30 (score >= threshold counts)
    # col 1: perfect at 0.65..0.80 -> 0.65
    # col 2: no positive in truth -> stays 0.5
    # col 3: positives 0.9, 0.4; negatives 0.6, 0.1 -> best F1 0.8 at 0.15..0.40 -> 0.40
    # col 4: no threshold finds anything, every F1 is 0 -> the tie goes to 0.5
    assert th.tolist() == pytest.approx([0.3, 0.65, 0.5, 0.4, 0.5])
    assert all(t in THRESHOLD_GRID or t == 0.5 for t in th)


def test_limit_offtopic_raises_the_cheapest_gated_threshold_until_the_limit_holds():
    """Ten off-topic rows: two get topic 0 (scores 0.6, 0.7), one gets topic 1 (0.55) they do not
    carry. Topic 0's positives score 0.9, so raising it past 0.7 costs no F1; topic 1's positive
    scores 0.56, so clearing its wrong row costs F1; topic 2 is not gated."""
    off = np.zeros((10, 3))
    off[0, 0], off[1, 0], off[2, 1], off[3, 2] = 0.6, 0.7, 0.55, 0.9
    on_scores = np.array([[0.9, 0.56, 0.9], [0.9, 0.2, 0.2]])
    scores = np.vstack([off, on_scores])
    truth = np.vstack([np.zeros((10, 3), int), [[1, 1, 1], [1, 0, 0]]])
    offtopic = np.array([True] * 10 + [False] * 2)
    start = np.array([0.5, 0.5, 0.5])

    th = limit_offtopic(start, scores, truth, offtopic, gated=[0, 1], limit=0.1)
    assert th[0] == pytest.approx(0.75)   # both topic-0 rows cleared, the positives kept
    assert th[1] == pytest.approx(0.5)    # one wrong row in ten is within the limit
    assert th[2] == pytest.approx(0.5)    # not gated: never moved (its 0.9 row does not count)

    th = limit_offtopic(start, scores, truth, offtopic, gated=[0, 1], limit=0.0)
    assert th[0] == pytest.approx(0.75) and th[1] == pytest.approx(0.6)
    assert limit_offtopic(start, scores, truth, offtopic, [0, 1], 0.5).tolist() == start.tolist()


def test_thresholds_make_the_best_dev_decisions():
    rng = np.random.default_rng(0)
    truth = (rng.random((200, 3)) < 0.3).astype(int)
    scores = np.clip(0.35 * truth + rng.random((200, 3)) * 0.6, 0, 1)
    th = tune_thresholds(scores, truth)

    def f1(col, t):
        pred = scores[:, col] >= t
        tp = (pred & (truth[:, col] == 1)).sum()
        return 2 * tp / (pred.sum() + truth[:, col].sum())

    for col in range(3):
        assert f1(col, th[col]) == pytest.approx(max(f1(col, t) for t in THRESHOLD_GRID))


# ---- the model interface, through the TF-IDF family --------------------------------------------

GATE = {"C": 4.0, "context_weight": 0.5, "neutral_stance": "neutral",
        "topics": ["sanctions", "troop_deployment", "espionage_trial"]}


ARTICLE_STAGE = {"folds": 2, "C": 1.0, "balanced_topics": False,
                 "balanced_stance": False}


@pytest.mark.parametrize("gate,article_stage", [(None, None), (GATE, None), (GATE, ARTICLE_STAGE)],
                         ids=["no_gate", "gate", "article_stage_and_gate"])
def test_tfidf_model_fits_predicts_and_round_trips(cfg, taxonomy, tmp_path, gate, article_stage):
    import datasets
    from omegaconf import OmegaConf

    rows = datasets.Dataset.from_list(tiny_corpus(12))
    train_rows, dev_rows = corpus.split_by_article(rows, 0.25, seed=0)
    assert not set(train_rows["article_id"]) & set(dev_rows["article_id"])
    model_cfg = OmegaConf.merge(compose_config_model("tfidf_linear"),
                                {"gate": gate, "article_stage": article_stage})
    model = build_model(model_cfg, taxonomy)
    model.fit(corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy))
    assert all(t in THRESHOLD_GRID or t == 0.5 for t in model.thresholds)

    texts, article_ids = list(dev_rows["text"]), list(dev_rows["article_id"])
    frame = model.predict_frame(texts, article_ids=article_ids)
    assert len(frame) == len(texts)
    assert set(frame.columns) >= {"topics", "stance", "stance_score",
                                  *(f"score_{t}" for t in taxonomy.topics),
                                  *(f"prob_{s}" for s in taxonomy.stances)}
    probs = frame[[f"prob_{s}" for s in taxonomy.stances]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(frame["stance_score"], probs.max(axis=1))
    for topics, (_, row) in zip(frame["topics"], frame.iterrows()):
        assert topics == [t for j, t in enumerate(taxonomy.topics)
                          if row[f"score_{t}"] >= model.thresholds[j]]
    # The tiny corpus is easy: the dev split is predicted well.
    truth = corpus.to_split(dev_rows, taxonomy)
    m = compute_metrics(taxonomy, truth.topics, taxonomy.topics_to_matrix(frame["topics"]),
                        truth.stances, taxonomy.stances_to_index(frame["stance"]))
    assert m["topic_micro_f1"] > 0.9 and m["stance_accuracy"] > 0.9

    restored = load_model(model.save(tmp_path / "model"))
    assert (restored.gate is None) == (gate is None)
    assert (restored.article_stage is None) == (article_stage is None)
    assert restored.taxonomy == taxonomy
    assert np.array_equal(restored.thresholds, model.thresholds)
    again = restored.predict_frame(texts, article_ids=article_ids)
    assert again["topics"].tolist() == frame["topics"].tolist()
    assert np.allclose(again.drop(columns=["topics", "stance"]).to_numpy(),
                       frame.drop(columns=["topics", "stance"]).to_numpy())


def test_thresholds_on_real_are_tuned_on_the_real_dev_rows_only(taxonomy):
    """`thresholds_on: real` tunes the topic thresholds on dev's real text (not `synthetic`)
    only; `to_split` marks which rows are real from their `source`."""
    import datasets
    from omegaconf import OmegaConf

    from topicstance.models.base import tune_thresholds

    records = tiny_corpus(12)
    for r in records:  # a third of the articles are real copy, the rest written
        r["source"] = "coverage" if int(r["article_id"][-2:]) % 3 == 0 else "synthetic"
    rows = datasets.Dataset.from_list(records)
    train_rows, dev_rows = corpus.split_by_article(rows, 0.5, seed=0)
    dev = corpus.to_split(dev_rows, taxonomy)
    assert dev.real.tolist() == [int(s == "coverage") for s in dev_rows["source"]]
    assert 0 < dev.real.sum() < len(dev)
    model = build_model(OmegaConf.merge(compose_config_model("tfidf_linear"),
                                        {"thresholds_on": "real"}), taxonomy)
    model.fit(corpus.to_split(train_rows, taxonomy), dev)
    scores, _ = model.scores(dev.texts, dev.contexts, dev.article_ids)
    real = dev.real.astype(bool)
    assert np.array_equal(model.thresholds, tune_thresholds(scores[real], dev.topics[real]))


def test_thresholds_out_of_fold_come_from_the_training_split_not_dev(taxonomy):
    """`thresholds_on: out_of_fold` tunes the topic thresholds on the training split's real
    text as the article stage's fold copies scored it: dev plays no part (any dev gives the same
    thresholds), written rows are left out, and a family with no article stage refuses it."""
    import datasets
    import pytest
    from omegaconf import OmegaConf

    records = tiny_corpus(16)
    for r in records:  # half the articles are real copy, the rest written
        r["source"] = "coverage" if int(r["article_id"][-2:]) % 2 == 0 else "synthetic"
    train_rows, dev_rows = corpus.split_by_article(datasets.Dataset.from_list(records), 0.25,
                                                   seed=0)
    train = corpus.to_split(train_rows, taxonomy)
    dev = corpus.to_split(dev_rows, taxonomy)
    article = compose_config_model("tfidf_article")
    article.pop("defaults")
    config = OmegaConf.merge(compose_config_model("tfidf_linear"), article,
                             {"gate": None, "thresholds_on": "out_of_fold"})
    fitted = []
    for dev_part in (dev, corpus.to_split(dev_rows.select(range(6)), taxonomy)):
        model = build_model(config, taxonomy)
        model.fit(train, dev_part)
        fitted.append(model.thresholds)
    assert np.array_equal(fitted[0], fitted[1])
    written_only = corpus.to_split(train_rows.map(lambda r: {"source": "synthetic"}), taxonomy)
    model = build_model(config, taxonomy)
    model.fit(written_only, dev)  # no real rows: every training row counts
    assert model.thresholds.shape == fitted[0].shape
    with pytest.raises(ValueError, match="article_stage"):
        build_model(OmegaConf.merge(compose_config_model("tfidf_linear"),
                                    {"thresholds_on": "out_of_fold"}), taxonomy).fit(train, dev)


def test_texts_sent_alone_are_decided_by_their_own_out_of_fold_thresholds(taxonomy, tmp_path):
    """With `thresholds_on: out_of_fold` the model also tunes thresholds for texts sent without
    an article id (read by the lone-segment heads); those decide such texts, the article
    thresholds decide texts with ids, and both survive save and load. Thresholds tuned on dev
    leave lone texts to the shared ones."""
    import datasets
    from omegaconf import OmegaConf

    records = tiny_corpus(16)
    for r in records:
        r["source"] = "coverage" if int(r["article_id"][-2:]) % 2 == 0 else "synthetic"
    train_rows, dev_rows = corpus.split_by_article(datasets.Dataset.from_list(records), 0.25,
                                                   seed=0)
    train, dev = corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy)
    article = compose_config_model("tfidf_article")
    article.pop("defaults")
    config = OmegaConf.merge(compose_config_model("tfidf_linear"), article,
                             {"gate": {"topics": GATE["topics"],
                                       "neutral_stance": GATE["neutral_stance"]}})
    model = build_model(config, taxonomy)
    model.fit(train, dev)
    assert model.gate is not None and model.lone_thresholds.shape == model.thresholds.shape
    assert all(t in THRESHOLD_GRID or t == 0.5 for t in model.lone_thresholds)

    model.thresholds = np.full(len(taxonomy.topics), 0.0)  # every topic, read with the article
    model.lone_thresholds = np.full(len(taxonomy.topics), 1.01)  # no topic, sent alone
    restored = load_model(model.save(tmp_path / "model"))
    assert np.array_equal(restored.lone_thresholds, model.lone_thresholds)
    texts = dev.texts[:6]
    assert restored.predict_frame(texts)["topics"].tolist() == [[]] * len(texts)
    with_ids = restored.predict_frame(texts, article_ids=dev.article_ids[:6])
    assert with_ids["topics"].tolist() == [list(taxonomy.topics)] * len(texts)

    on_dev = build_model(OmegaConf.merge(config, {"thresholds_on": "dev"}), taxonomy)
    on_dev.fit(train, dev)
    assert on_dev.lone_thresholds is None
    assert load_model(on_dev.save(tmp_path / "on_dev")).lone_thresholds is None


def test_the_offtopic_limit_raises_only_the_war_topics_thresholds(taxonomy):
    """`offtopic_war_topic_limit` raises the gated (war) topics' out-of-fold thresholds, both
    sets, until few rows of non-war articles get one; `domestic_politics` is left as tuned."""
    import datasets
    from omegaconf import OmegaConf

    records = tiny_corpus(16)
    for r in records:  # every fourth article is not about the war: its war topics are dropped
        r["source"] = "coverage"
        if int(r["article_id"][-2:]) % 4 == 0:
            r["topics"] = [t for t in r["topics"] if t == "domestic_politics"]
            r["stance"] = "neutral"
    train_rows, dev_rows = corpus.split_by_article(datasets.Dataset.from_list(records), 0.25,
                                                   seed=0)
    train, dev = corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy)
    train.about_war = np.array([int(int(a[-2:]) % 4 != 0) for a in train.article_ids])
    article = compose_config_model("tfidf_article")
    article.pop("defaults")
    config = OmegaConf.merge(compose_config_model("tfidf_linear"), article,
                             {"gate": {"topics": GATE["topics"],
                                       "neutral_stance": GATE["neutral_stance"]}})
    models = {}
    for limit in (None, 0.0):
        models[limit] = build_model(OmegaConf.merge(config, {"offtopic_war_topic_limit": limit}),
                                    taxonomy)
        models[limit].fit(train, dev)
    free, capped = models[None], models[0.0]
    war = [taxonomy.topics.index(t) for t in GATE["topics"]]
    other = taxonomy.topics.index("domestic_politics")
    for name in ("thresholds", "lone_thresholds"):
        before, after = getattr(free, name), getattr(capped, name)
        assert (after[war] >= before[war]).all() and after[other] == before[other]
    assert (capped.lone_thresholds[war] > free.lone_thresholds[war]).any()


def test_article_stage_folds_by_outlet_keep_each_outlet_on_one_side(taxonomy):
    """With `article_stage.folds_by: outlet` the fold copies never score an outlet they were
    trained on (rows of no known outlet are kept apart by article); any other value is refused
    when the model is fitted."""
    import datasets
    import pytest
    from omegaconf import OmegaConf

    rows = datasets.Dataset.from_list(tiny_corpus(16))
    train = corpus.to_split(rows, taxonomy)
    train.outlets = ["" if int(a[-2:]) % 4 == 0 else f"outlet{int(a[-2:]) % 3}"
                     for a in train.article_ids]
    article = compose_config_model("tfidf_article")
    article.pop("defaults")
    config = OmegaConf.merge(compose_config_model("tfidf_linear"), article, {"gate": None})
    assert config.article_stage.folds_by == "outlet"
    model = build_model(config, taxonomy)
    for fit_rows, held_rows in model._folds(train):
        seen = {train.outlets[i] for i in fit_rows} - {""}
        assert seen and not seen & {train.outlets[i] for i in held_rows}
        assert not ({train.article_ids[i] for i in fit_rows}
                    & {train.article_ids[i] for i in held_rows})
    model.fit(train, train)
    assert model.article_stage is not None
    with pytest.raises(ValueError, match="folds_by"):
        build_model(OmegaConf.merge(config, {"article_stage": {"folds_by": "writer"}}),
                    taxonomy).fit(train, train)


def compose_config_model(name: str):
    from omegaconf import OmegaConf

    from topicstance.config import CONF_DIR

    return OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")


def test_gate_takes_side_and_war_topics_off_text_not_about_the_war(taxonomy):
    """Trained on the tiny corpus (whose weather and football lines are about nothing), the gate
    leaves war text alone and takes the side off a heated line about something else."""
    import datasets

    from topicstance.models.gate import RelevanceGate

    rows = datasets.Dataset.from_list(tiny_corpus(12))
    gate = RelevanceGate(taxonomy, GATE).fit(corpus.to_split(rows, taxonomy))
    texts = ["Heavy rain flooded streets in Leeds and fans queued for the new football stadium.",
             "Moscow denounced the Russophobic hysteria of the Kyiv regime and its puppets."]
    topics = np.full((2, len(taxonomy.topics)), 0.9)
    stances = np.tile([0.1, 0.8, 0.1], (2, 1))  # pro_russia for both
    gated_topics, gated_stances = gate.apply(texts, None, topics, stances)
    p = gate.probability(texts, None)
    assert p[0] < 0.5 < p[1]
    assert gated_stances[0].argmax() == taxonomy.stances.index("neutral")
    assert gated_stances[1].argmax() == taxonomy.stances.index("pro_russia")
    assert gated_topics[0, taxonomy.topics.index("sanctions")] < 0.45
    assert gated_topics[0, taxonomy.topics.index("domestic_politics")] == 0.9  # not gated
    assert np.allclose(gated_stances.sum(axis=1), 1.0)


def test_gate_with_article_weight_reads_relevance_per_article(taxonomy):
    """With `article_weight` 1, every segment is gated by its article's mean relevance: a
    war-sounding line inside an article about the weather keeps less of its side than alone."""
    import datasets

    from topicstance.models.gate import RelevanceGate

    rows = datasets.Dataset.from_list(tiny_corpus(12))
    gate = RelevanceGate(taxonomy, {**GATE, "article_weight": 1.0}).fit(
        corpus.to_split(rows, taxonomy))
    weather = ["Heavy rain flooded streets in Leeds and fans queued for the new football stadium.",
               "Forecasters expect more rain and wind across Leeds and the north this weekend.",
               "The football stadium opens its gates to fans on Saturday despite the weather."]
    war_line = "Moscow denounced the Russophobic hysteria of the Kyiv regime and its puppets."
    texts = weather + [war_line]
    topics = np.full((4, len(taxonomy.topics)), 0.9)
    stances = np.tile([0.1, 0.8, 0.1], (4, 1))  # pro_russia for all
    pro_russia, neutral = taxonomy.stances.index("pro_russia"), taxonomy.stances.index("neutral")

    p = gate.probability(texts, None)
    assert p[:3].mean() < p[3] - 0.2
    _, alone = gate.apply(texts, None, topics, stances, article_ids=["a", "b", "c", "d"])
    assert alone[3].argmax() == pro_russia
    gated_topics, together = gate.apply(texts, None, topics, stances,
                                        article_ids=["a", "a", "a", "a"])
    assert together[3, pro_russia] < alone[3, pro_russia] - 0.1
    assert together[3, neutral] == pytest.approx(0.1 * p.mean() + (1 - p.mean()))
    assert gated_topics[3, taxonomy.topics.index("sanctions")] == pytest.approx(0.9 * p.mean())
    _, no_ids = gate.apply(texts, None, topics, stances)  # no article ids: each row alone
    assert np.allclose(no_ids, alone)


def test_unknown_model_family_is_refused(taxonomy):
    from omegaconf import OmegaConf

    with pytest.raises(ValueError, match="unknown model.family"):
        build_model(OmegaConf.create({"family": "no_such_family"}), taxonomy)


def test_worst_misclassified_puts_the_surest_mistakes_first(taxonomy):
    from topicstance.corpus import LabeledSplit
    from topicstance.metrics import worst_misclassified

    truth = LabeledSplit([f"text {i}" for i in range(len(TRUE_STANCE))], TRUE_TOPICS, TRUE_STANCE)
    # p(true stance): row 1 (wrong, pred s1) 0.1, row 4 (wrong, pred s0) 0.3, row 5 (wrong) 0.2
    probs = np.full((6, 3), 0.0)
    for i, (pred, p_true) in enumerate(zip(PRED_STANCE, [0.8, 0.1, 0.8, 0.8, 0.3, 0.2])):
        probs[i, TRUE_STANCE[i]] = p_true
        probs[i, pred] += 1 - p_true
    frame = pd.DataFrame({"topics": [[t for t, on in zip(taxonomy.topics, r) if on]
                                     for r in PRED_TOPICS],
                          "stance": [taxonomy.stances[i] for i in PRED_STANCE]})
    for j, t in enumerate(taxonomy.topics):
        frame[f"score_{t}"] = PRED_TOPICS[:, j].astype(float)  # sure of every topic call
    for j, s in enumerate(taxonomy.stances):
        frame[f"prob_{s}"] = probs[:, j]
    worst = worst_misclassified(taxonomy, truth, frame, limit=3)
    # Wrong: rows 1 (topic+stance), 2 (topic), 4 and 5 (stance); costs 1-log(.1), 1, -log(.3),
    # -log(.2): the three surest mistakes are rows 1, 5, 4.
    assert worst["text"].tolist() == ["text 1", "text 5", "text 4"]
    assert worst["error"].tolist() == ["topic+stance", "stance", "stance"]
    assert worst.loc[0, "true_topics"] == f"{taxonomy.topics[0]}, {taxonomy.topics[1]}"
    assert worst["cost"].is_monotonic_decreasing


def test_stance_offsets_shift_priors_towards_what_real_text_needs(taxonomy, tmp_path):
    """`tune_stance_offsets` shifts the sides' log-priors where the model under-calls them, keeps
    the reference stance at 0, and lets the gate's "not about the war" win over any shift; a
    model fitted with `stance_offsets` decides with its shifts and saves and restores them."""
    import datasets
    from omegaconf import OmegaConf

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 600)
    # the model sees each side, but too faintly: the true side gets 0.3, neutral 0.4
    stances = np.full((600, 3), 0.2)
    stances[np.arange(600), truth] = 0.3
    stances[:, 2] = np.where(truth == 2, 0.6, 0.4)
    stances /= stances.sum(axis=1, keepdims=True)
    assert (stances.argmax(axis=1) == 2).all()  # unshifted: never a side
    offsets = tune_stance_offsets(stances, np.ones(600), truth, reference=2)
    assert offsets[2] == 0 and (offsets[:2] > 0).all()
    assert (shift_stance(stances, offsets).argmax(axis=1) == truth).mean() > 0.95
    np.testing.assert_allclose(shift_stance(stances, offsets).sum(axis=1), 1.0)
    # with every row judged not about the war, no shift can give a side: none is made
    assert not tune_stance_offsets(stances, np.zeros(600), truth, reference=2).any()

    records = [{**r, "source": "coverage"} for r in tiny_corpus(16)]
    train_rows, dev_rows = corpus.split_by_article(datasets.Dataset.from_list(records), 0.25, 0)
    train, dev = corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy)
    article = compose_config_model("tfidf_article")
    article.pop("defaults")
    model = build_model(OmegaConf.merge(compose_config_model("tfidf_linear"), article,
                                        {"gate": None}), taxonomy)
    model.fit(train, dev)
    assert model.stance_offsets[taxonomy.stances.index("neutral")] == 0
    pro_ukraine = taxonomy.stances.index("pro_ukraine")
    model.stance_offsets = np.zeros(3)
    before = model.predict_frame(dev.texts, dev.contexts, dev.article_ids)
    model.stance_offsets[pro_ukraine] = 5.0
    after = model.predict_frame(dev.texts, dev.contexts, dev.article_ids)
    assert (after["stance"] == "pro_ukraine").sum() > (before["stance"] == "pro_ukraine").sum()
    restored = load_model(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(restored.stance_offsets, model.stance_offsets)
    pd.testing.assert_frame_equal(
        restored.predict_frame(dev.texts, dev.contexts, dev.article_ids), after)
