"""The article stage reads each segment with its context and its whole article."""

import pickle

import datasets
import joblib
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from conftest import tiny_corpus
from topicstance import corpus
from topicstance.config import CONF_DIR
from topicstance.engines.local import _batches
from topicstance.labels import Taxonomy
from topicstance.models import build_model, load_model
from topicstance.models.article import features, grouped_folds


def test_features_pool_the_scores_of_each_article():
    own = np.array([[0.9, 0.5], [0.1, 0.5], [0.5, 0.9]])
    context = np.full_like(own, 0.5)
    x = features(own, context, ["a", "a", "b"])
    log_odds = np.log(np.clip(own, 1e-4, 1 - 1e-4) / (1 - np.clip(own, 1e-4, 1 - 1e-4)))
    mean, best = x[:, 4:6], x[:, 6:8]
    assert np.allclose(mean[0], log_odds[:2].mean(axis=0)) and np.allclose(mean[0], mean[1])
    assert np.allclose(best[1], log_odds[:2].max(axis=0))
    assert np.allclose(mean[2], log_odds[2]) and np.allclose(best[2], log_odds[2])
    alone = features(own, context, None)  # without article ids each text is its own article
    assert np.allclose(alone[:, 4:6], log_odds) and np.allclose(alone[:, 6:8], log_odds)


def test_folds_never_put_an_article_on_both_sides():
    article_ids = [f"a{i // 3}" for i in range(30)]
    for fit_rows, held_rows in grouped_folds(article_ids, 4):
        assert not {article_ids[i] for i in fit_rows} & {article_ids[i] for i in held_rows}


def test_folds_by_outlet_never_put_an_outlet_on_both_sides():
    article_ids = [f"a{i // 3}" for i in range(60)]
    # a fifth of the articles' outlets are not known: those are grouped by article alone
    outlets = ["" if (i // 3) % 5 == 0 else f"outlet{(i // 3) % 7}" for i in range(60)]
    held_by_fold = []
    for fit_rows, held_rows in grouped_folds(article_ids, 4, outlets):
        fit_outlets = {outlets[i] for i in fit_rows} - {""}
        assert not fit_outlets & ({outlets[i] for i in held_rows} - {""})
        assert not {article_ids[i] for i in fit_rows} & {article_ids[i] for i in held_rows}
        held_by_fold.append(set(held_rows))
    assert sorted(set().union(*held_by_fold)) == list(range(60))


@pytest.fixture(scope="module")
def article_model():
    taxonomy = Taxonomy.from_config(OmegaConf.load(CONF_DIR / "labels" / "default.yaml"))
    params = OmegaConf.merge(OmegaConf.load(CONF_DIR / "model" / "tfidf_linear.yaml"),
                             {"context_weight": 0.0, "article_stage": {
                                 "folds": 3, "C": 1.0, "balanced_topics": False,
                                 "balanced_stance": False}})
    rows = datasets.Dataset.from_list(tiny_corpus(15))
    train_rows, dev_rows = corpus.split_by_article(rows, 0.2, seed=0)
    model = build_model(params, taxonomy)
    model.fit(corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy))
    return model


def test_a_segment_is_read_with_its_article(article_model):
    """Changing another segment of the same article changes a segment's scores; changing a
    segment of another article does not."""
    texts = ["The court heard the case on Monday.",
             "Prosecutors said the suspects spied for a foreign intelligence service.",
             "The weather in the capital stayed mild."]
    ids = ["one", "one", "two"]
    before = article_model.predict_frame(texts, article_ids=ids)
    same_article = article_model.predict_frame(
        [texts[0], "Officials said further details would be released next week.", texts[2]],
        article_ids=ids)
    other_article = article_model.predict_frame(
        [texts[0], texts[1], "Ministers announced new export controls on drones."],
        article_ids=ids)
    scores = [c for c in before.columns if c.startswith(("score_", "prob_"))]
    assert not np.allclose(before.loc[0, scores].astype(float),
                           same_article.loc[0, scores].astype(float))
    assert np.allclose(before.loc[0, scores].astype(float),
                       other_article.loc[0, scores].astype(float))


def test_a_text_sent_alone_is_read_by_the_lone_segment_heads(article_model):
    """Without article ids the stage's lone-segment heads read the text (own and context
    scores only); with ids, the article heads, but for an article of one row."""
    stage, n_stances = article_model.article_stage, len(article_model.taxonomy.stances)
    assert stage.lone_topic_heads is not None
    texts = ["Prosecutors said the suspects spied for a foreign intelligence service.",
             "Brussels agreed a new package of sanctions on Russian oil.",
             "The weather in the capital stayed mild."]
    own = np.hstack(article_model.predict_scores(texts))
    no_context = np.repeat(np.hstack(article_model.predict_scores([""])), len(texts), axis=0)
    topics, stance = stage.apply(own, no_context, None, n_stances)
    alone = article_model.predict_frame(texts)  # the tiny model has no relevance gate
    topic_columns = [f"score_{t}" for t in article_model.taxonomy.topics]
    assert np.allclose(alone[topic_columns].to_numpy(float), topics)
    assert np.allclose(alone[[f"prob_{s}" for s in article_model.taxonomy.stances]]
                       .to_numpy(float), stance)
    taxonomy = article_model.taxonomy
    assert alone["topics"].tolist() == [
        [t for t, on in zip(taxonomy.topics, row) if on]
        for row in topics >= article_model.thresholds]
    # the first two share an article: the article heads; the third is its article's only row
    # (a file of ready-cut segments): the lone-segment heads and their thresholds, as if alone
    ids = ["a", "a", "b"]
    in_articles = article_model.predict_frame(texts, article_ids=ids)
    article_topics, _ = stage.apply(own[:2], no_context[:2], ids[:2], n_stances)
    assert np.allclose(in_articles[topic_columns].to_numpy(float)[:2], article_topics)
    assert not np.allclose(article_topics, topics[:2])
    assert np.allclose(in_articles[topic_columns].to_numpy(float)[2], topics[2])
    assert in_articles["topics"][2] == alone["topics"][2]
    singletons = article_model.predict_frame(texts, article_ids=["a", "b", "c"])
    assert np.allclose(singletons[topic_columns].to_numpy(float), topics)


def test_a_model_saved_before_the_lone_segment_heads_reads_a_lone_text_as_its_article(
        article_model, tmp_path):
    directory = article_model.save(tmp_path / "model")
    stage_file = directory / "article_stage.pkl"
    with open(stage_file, "rb") as f:
        parts = pickle.load(f)
    with open(stage_file, "wb") as f:
        pickle.dump({k: parts[k] for k in ("topic_heads", "stance_head")}, f)
    texts = [row["text"] for row in tiny_corpus(4)]
    old = load_model(directory)
    assert old.article_stage.lone_topic_heads is None
    frame = old.predict_frame(texts)
    own = np.hstack(old.predict_scores(texts))
    no_context = np.repeat(np.hstack(old.predict_scores([""])), len(texts), axis=0)
    topics, _ = old.article_stage.apply(own, no_context, list(range(len(texts))),
                                        len(old.taxonomy.stances))
    assert np.allclose(frame[[f"score_{t}" for t in old.taxonomy.topics]].to_numpy(float), topics)


def test_the_local_engine_never_cuts_an_article():
    rows = pd.DataFrame({"article_id": list("aaabbc"), "text": list("uvwxyz")})
    batches = [b["article_id"].tolist() for b in _batches(rows, 2)]
    assert batches == [["a", "a", "a"], ["b", "b"], ["c"]]


def test_a_batch_scored_in_parts_on_threads_scores_as_one(article_model):
    texts = [row["text"] for row in tiny_corpus(120)][:700]  # big enough for two parts
    article_ids = [row["article_id"] for row in tiny_corpus(120)][:700]
    assert len(texts) == 700
    threads = article_model.params["threads"]
    try:
        article_model.params["threads"] = 1
        alone = article_model.predict_frame(texts, article_ids=article_ids)
        article_model.params["threads"] = 2
        in_parts = article_model.predict_frame(texts, article_ids=article_ids)
    finally:
        article_model.params["threads"] = threads
    pd.testing.assert_frame_equal(alone, in_parts)


def test_the_relevance_gate_scores_a_batch_in_parts_as_one():
    from topicstance.models.gate import RelevanceGate

    taxonomy = Taxonomy.from_config(OmegaConf.load(CONF_DIR / "labels" / "default.yaml"))
    params = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / "tfidf_article.yaml").gate)
    params["topics"] = ["sanctions", "troop_deployment", "espionage_trial"]
    params["neutral_stance"] = taxonomy.no_side
    rows = datasets.Dataset.from_list(tiny_corpus(120))
    split = corpus.to_split(rows, taxonomy)
    gate = RelevanceGate(taxonomy, {**params, "threads": 1}).fit(split)
    texts = split.texts[:700]
    alone = gate.probability(texts, None)
    gate.params["threads"] = 2
    assert np.array_equal(gate.probability(texts, None), alone)


def test_the_gate_lets_more_of_a_war_topic_through_where_it_is_unsure_but_not_the_stance():
    """`topic_slope` / `topic_shift` (tfidf_article: 2, 0.5): an unsure p (0.55, war copy from
    an outlet the gate never saw) keeps most of a war topic's score, a confident "not the war"
    still takes it off; the stance is gated by p itself; without them the topics get p too."""
    from topicstance.models.gate import RelevanceGate

    taxonomy = Taxonomy.from_config(OmegaConf.load(CONF_DIR / "labels" / "default.yaml"))
    params = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / "tfidf_article.yaml").gate)
    params["topics"] = ["sanctions", "troop_deployment", "espionage_trial"]
    params["neutral_stance"] = taxonomy.no_side
    gate = RelevanceGate(taxonomy, params)
    p = np.array([[0.02], [0.2], [0.55], [0.95]])
    weight = gate.topic_weight(p)[:, 0]
    assert weight[0] < 0.01 and weight[1] < 0.2 and 0.7 < weight[2] < 0.72 and weight[3] > 0.99
    gate.about_war = lambda texts, contexts, article_ids=None: p[:, 0]
    topics, stances = gate.apply(["x"] * 4, None, np.full((4, 4), 0.9), np.tile([0.6, 0.2, 0.2], (4, 1)))
    assert np.allclose(topics[:, 2], 0.9 * weight) and np.allclose(topics[:, 3], 0.9)  # not gated
    assert np.allclose(stances[:, 0], 0.6 * p[:, 0])
    plain = RelevanceGate(taxonomy, {**params, "topic_slope": 1.0, "topic_shift": 0.0})
    assert np.array_equal(plain.topic_weight(p), p)


def test_a_model_saved_with_joblib_parts_still_loads(article_model, tmp_path):
    """Parts are pickled (`*.pkl`); a model logged before that, with `*.joblib` parts, loads and
    predicts the same."""
    texts = [row["text"] for row in tiny_corpus(4)]
    expected = article_model.predict_frame(texts)
    directory = article_model.save(tmp_path / "model")
    parts = sorted(directory.glob("*.pkl"))
    assert [p.name for p in parts] == ["article_stage.pkl", "tfidf_linear.pkl"]
    pd.testing.assert_frame_equal(load_model(directory).predict_frame(texts), expected)
    for part in parts:
        with open(part, "rb") as f:
            joblib.dump(pickle.load(f), part.with_suffix(".joblib"))
        part.unlink()
    pd.testing.assert_frame_equal(load_model(directory).predict_frame(texts), expected)


def test_tfidf_heads_score_in_one_product_what_predict_proba_gives(article_model):
    """The heads' stacked coefficients give each head's own `predict_proba`; a topic seen with
    one class only in training (no linear head) falls back to `predict_proba`."""
    texts = ["Prosecutors said the suspects spied for a foreign intelligence service.",
             "Brussels agreed a new package of sanctions on Russian oil.",
             "The weather in the capital stayed mild."]
    x = article_model._x(texts, None)
    topics, stance = article_model._scores(texts, None)
    assert article_model._stacked_heads is not None
    assert np.allclose(topics, article_model.topic_head.predict_proba(x), atol=1e-12)
    assert np.allclose(stance[:, article_model.stance_head.classes_],
                       article_model.stance_head.predict_proba(x), atol=1e-12)

    taxonomy = article_model.taxonomy
    records = [{**r, "topics": [t for t in r["topics"] if t != "espionage_trial"]}
               for r in tiny_corpus(6)]
    train_rows, dev_rows = corpus.split_by_article(datasets.Dataset.from_list(records), 0.2, 0)
    model = build_model(OmegaConf.load(CONF_DIR / "model" / "tfidf_linear.yaml"), taxonomy)
    with pytest.warns(UserWarning, match="present in all training examples"):
        model.fit(corpus.to_split(train_rows, taxonomy), corpus.to_split(dev_rows, taxonomy))
    assert model._stacked_heads is None
    topics, _ = model._scores(texts, None)
    assert np.allclose(topics, model.topic_head.predict_proba(model._x(texts, None)))


def test_contexts_from_articles_take_each_articles_rows_in_the_order_given():
    from topicstance.models.pyfunc import contexts_from_articles

    ids = ["a", "b", "a", "a", "b"]
    texts = ["A head", "B head", "A one", "A two", "B one"]
    assert contexts_from_articles(ids, texts) == ["", "", "A head", "A head\nA one", "B head"]


def test_the_pyfunc_reads_the_article_context_from_article_ids_alone(article_model):
    """A caller who sends `article_id` but no `headline` / `previous` gets the same output as
    one who fills them from the article (what `make predict` and `make evaluate` send)."""
    from topicstance.models.pyfunc import TopicStancePyfunc

    pyfunc = TopicStancePyfunc()
    pyfunc.model = article_model
    rows = pd.DataFrame({"article_id": ["a", "a", "a", "b", "b"], "text": [
        "Court hears spy case", "Prosecutors said the suspects spied for a foreign service.",
        "The defendants deny the charges.", "EU agrees sanctions package",
        "The measures target Russian oil exports."]})
    filled = rows.assign(headline=["", "Court hears spy case", "Court hears spy case", "",
                                   "EU agrees sanctions package"],
                         previous=["", "Court hears spy case", rows.text[1], "",
                                   "EU agrees sanctions package"])
    pd.testing.assert_frame_equal(pyfunc.predict(None, rows), pyfunc.predict(None, filled))
    without_context = pyfunc.predict(None, filled.assign(headline="", previous=""))
    assert not np.allclose(pyfunc.predict(None, rows)["score_espionage_trial"],
                           without_context["score_espionage_trial"])
