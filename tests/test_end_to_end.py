"""The jobs end to end on a tmp MLflow store: train -> registry -> evaluate (predict has its own
module, test_predict_batch.py).

The pipeline functions are called directly with configs composed from conf/, the way the
`@hydra.main` entry points call them; one test runs a real console script.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    clean_subprocess_env,
    new_store,
    read_jsonl,
    tiny_corpus,
    write_jsonl,
)
from topicstance.labels import Taxonomy
from topicstance.pipelines.evaluate import evaluate_model

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
MODEL_NAME, ALIAS = "topicstance", "champion"
WORSE_MODEL = ["model.C=0.001", "model.class_weight_balanced=false"]  # near-constant scores


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    """One store with one trained, registered tfidf_linear model (version 1 @champion)."""
    s = new_store(tmp_path_factory.mktemp("e2e"), tiny_labeled_file)
    s.metrics = s.train()
    s.taxonomy = Taxonomy.from_config(s.make("train").labels)
    return s


def champion(s) -> str:
    return str(s.client.get_model_version_by_alias(MODEL_NAME, ALIAS).version)


# ---- train -------------------------------------------------------------------------------------

def test_train_registers_a_champion(store):
    versions = store.client.search_model_versions(f"name='{MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert champion(store) == "1"
    run = store.client.get_run(versions[0].run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["job"] == "train"
    assert run.data.tags["model_family"] == "tfidf_linear"
    assert run.data.params["model.family"] == "tfidf_linear"
    assert int(run.data.params["n_train"]) + int(run.data.params["n_dev"]) == 120
    assert run.data.params["n_rejected"] == "0"
    # Everything the run wrote sits inside the tmp experiments folder.
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(store.experiments)


def test_train_metric_names(store):
    names = {"dev/topic_micro_f1", "dev/topic_macro_f1", "dev/stance_macro_f1",
             "dev/stance_accuracy", "dev/mean_macro_f1"}
    names |= {f"dev/topic_f1/{t}" for t in store.taxonomy.topics}
    names |= {f"dev/stance_f1/{s}" for s in store.taxonomy.stances}
    assert names <= set(store.metrics)
    version = store.client.get_model_version(MODEL_NAME, "1")
    logged = store.client.get_run(version.run_id).data.metrics
    for name in names:
        assert logged[name] == pytest.approx(store.metrics[name]), name
        assert 0.0 <= logged[name] <= 1.0
    # The tiny corpus is easy: a working pipeline scores it well on dev.
    assert store.metrics["dev/topic_micro_f1"] > 0.9
    assert store.metrics["dev/stance_accuracy"] > 0.9


def test_no_article_in_both_train_and_dev(store, tmp_path):
    run_id = store.client.get_model_version(MODEL_NAME, "1").run_id
    local = store.client.download_artifacts(run_id, "split.json", str(tmp_path))
    split = json.loads(Path(local).read_text())
    train_articles, dev_articles = set(split["train_articles"]), set(split["dev_articles"])
    assert train_articles and dev_articles
    assert not train_articles & dev_articles
    assert train_articles | dev_articles == {r["article_id"] for r in read_jsonl(store.labeled)}
    params = store.client.get_run(run_id).data.params
    assert int(params["n_dev"]) == 6 * len(dev_articles)  # 6 segments per tiny article
    artifacts = {a.path for a in store.client.list_artifacts(run_id)}
    assert {"config.yaml", "dev", "topic_thresholds.json", "split.json"} <= artifacts


def test_promotion_policy(tmp_path, tiny_labeled_file):
    s = new_store(tmp_path, tiny_labeled_file)
    good = s.train()["dev/mean_macro_f1"]
    assert champion(s) == "1"

    worse = s.train("registry.promote=if_better", *WORSE_MODEL)["dev/mean_macro_f1"]
    assert worse < good, "test premise: the worse model must score lower on dev"
    assert champion(s) == "1"
    version = s.client.get_model_version(MODEL_NAME, "2")
    assert float(version.tags["dev/mean_macro_f1"]) == pytest.approx(worse)

    s.train("registry.promote=always", *WORSE_MODEL)
    assert champion(s) == "3"

    s.train("registry.promote=never")
    assert champion(s) == "3"

    s.train("registry.promote=if_better")  # beats the worse champion
    assert champion(s) == "5"
    assert len(s.client.search_model_versions(f"name='{MODEL_NAME}'")) == 5


# ---- evaluate ----------------------------------------------------------------------------------

METRIC_KEYS = ("n", "topic_micro_f1", "topic_macro_f1", "stance_macro_f1", "stance_accuracy",
               "alone/topic_macro_f1", "alone/stance_macro_f1")


def test_evaluate_is_deterministic(store, tmp_path):
    heldout = write_jsonl(tmp_path / "heldout.jsonl", tiny_corpus(5, prefix="heldout"))
    cfg = store.make("evaluate", [f"data_file='{heldout}'"])
    first, second = evaluate_model(cfg), evaluate_model(cfg)
    for key in METRIC_KEYS:
        assert key in first
    assert first == second
    assert first["n"] == 30
    assert first["model_uri"] == "models:/topicstance/1"
    assert first["data_file"] == str(heldout)
    assert first["topic_micro_f1"] > 0.8 and first["stance_accuracy"] > 0.8
    runs = store.client.search_runs(
        [store.client.get_experiment_by_name("topicstance").experiment_id],
        filter_string="tags.job = 'evaluate'")
    assert len(runs) >= 2
    assert runs[0].data.metrics["eval/topic_micro_f1"] == pytest.approx(first["topic_micro_f1"])
    assert runs[0].data.metrics["eval/n"] == 30


def test_evaluate_sets_invalid_labels_aside(store, tmp_path, caplog):
    good = tiny_corpus(3, prefix="mixed")
    mixed = write_jsonl(tmp_path / "mixed.jsonl", good[:1] + [{"id": "x", "text": "t"}] + good[1:])
    expected = evaluate_model(store.make("evaluate", [
        f"data_file='{write_jsonl(tmp_path / 'good.jsonl', good)}'"]))
    got = evaluate_model(store.make("evaluate", [f"data_file='{mixed}'"]))
    assert got["n"] == len(good) and got["n_rejected"] == 1
    for key in METRIC_KEYS:  # the good records are scored as they are without the bad one
        assert got[key] == expected[key], key
    assert f"set aside {mixed}:2: missing or empty 'article_id'" in caplog.text
    run = store.client.search_runs(
        [store.client.get_experiment_by_name("topicstance").experiment_id],
        filter_string="tags.job = 'evaluate'", order_by=["attributes.start_time DESC"])[0]
    assert run.data.metrics["eval/n_rejected"] == 1
    set_aside = json.loads(Path(store.client.download_artifacts(
        run.info.run_id, "rejected_labeled.json", str(tmp_path))).read_text())
    assert [(r["line"], r["raw"]) for r in set_aside] == [(2, '{"id": "x", "text": "t"}')]


def test_evaluate_refuses_a_file_with_no_valid_record(store, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "text": "t"}])
    with pytest.raises(ValueError, match=f"no valid labeled records in {bad}: {bad}:1: "):
        evaluate_model(store.make("evaluate", [f"data_file='{bad}'"]))


def test_evaluate_console_script(store, tmp_path):
    expected = evaluate_model(store.make("evaluate", [f"data_file='{store.labeled}'"]))
    result = subprocess.run(
        [str(BIN / "topicstance-evaluate"), f"data_file='{store.labeled}'",
         f"paths.experiments='{store.experiments}'", f"tracking.uri='{store.uri}'"],
        check=False, cwd=tmp_path, env=clean_subprocess_env(), capture_output=True, text=True,
        timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for key in METRIC_KEYS:
        assert got[key] == expected[key], key
    assert got["model_uri"] == "models:/topicstance/1"
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "mlflow.db").exists()
    assert (store.experiments / "hydra").is_dir()
