"""The outlet-grouped cross-validation job on the tiny corpus, against a tmp MLflow store: folds
keep outlets apart, every held-out segment is scored once, the pooled metrics are logged and
nothing is registered."""

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conftest import compose_config, labeled_override, tiny_corpus, write_jsonl
from topicstance.pipelines.cross_validate import cross_validate

pytestmark = pytest.mark.slow

N_ARTICLES = 16
OUTLET_OF = {f"tiny-a{a:02d}": f"Outlet {a // 2}" for a in range(0, N_ARTICLES, 2)}  # held out
OUTLET_OF.update({f"tiny-a{a + 1:02d}": f"Outlet {a // 2}" for a in range(0, N_ARTICLES, 2)})


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    """Half the tiny articles as coverage (two per outlet, outlet 0 not about the war), half as
    other labeled data that always trains."""
    root = tmp_path_factory.mktemp("cv")
    rows = tiny_corpus(N_ARTICLES) + tiny_corpus(6, prefix="written")
    for row in rows:
        row["source"] = "coverage" if row["article_id"] in OUTLET_OF else "synthetic"
    sources = [{"id": a, "url": f"https://example.org/{a}", "outlet": outlet, "country": "XX",
                "date": "2025-01-01", "found_by": "test", "war": outlet != "Outlet 0",
                "split": "train", "furniture": []} for a, outlet in OUTLET_OF.items()]
    return write_jsonl(root / "labeled.jsonl", rows), write_jsonl(root / "sources.jsonl", sources)


@pytest.fixture(scope="module")
def cv_run(corpus_files, tmp_path_factory):
    labeled, sources = corpus_files
    experiments = tmp_path_factory.mktemp("cv_store") / "experiments"
    cfg = compose_config("cross_validate", experiments,
                         ["model=tfidf_linear", labeled_override(labeled),
                          f"data.coverage_sources='{sources}'", "cv.folds=4"])
    results = cross_validate(cfg)
    client = MlflowClient(tracking_uri=cfg.tracking.uri, registry_uri=cfg.tracking.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("topicstance").experiment_id])
    return results, client, run


def test_folds_keep_outlets_apart_and_hold_out_every_coverage_article_once(cv_run):
    _, client, run = cv_run
    folds = json.loads(Path(client.download_artifacts(run.info.run_id, "cv_folds.json"))
                       .read_text())
    held = [a for articles in folds.values() for a in articles]
    assert sorted(held) == sorted(OUTLET_OF)  # each coverage article once, nothing else
    outlets_per_fold = [{OUTLET_OF[a] for a in articles} for articles in folds.values()]
    assert len(outlets_per_fold) == 4
    for i, outlets in enumerate(outlets_per_fold):
        for other in outlets_per_fold[i + 1:]:
            assert not outlets & other


def test_pooled_metrics_with_the_article_and_alone_and_the_offtopic_rates(cv_run):
    results, client, run = cv_run
    for key in ("cv/topic_macro_f1", "cv/stance_macro_f1", "cv/stance_f1/pro_ukraine",
                "cv/alone/topic_macro_f1", "cv/alone/stance_macro_f1",
                "cv/offtopic_side_rate", "cv/alone/offtopic_war_topic_rate"):
        assert 0.0 <= results[key] <= 1.0, key
        assert run.data.metrics[key] == pytest.approx(results[key])
    assert results["cv/offtopic_n"] == 12  # outlet 0's two articles, six segments each
    assert results["cv/topic_macro_f1"] > 0.5  # the tiny corpus is learnable from other outlets
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "cv/fold/topic_macro_f1")]
    assert sorted(steps) == [0, 1, 2, 3]
    assert run.data.tags["job"] == "cross_validate"
    assert "git_commit" in run.data.tags and run.data.tags["taxonomy"]  # where it came from
    assert run.data.params["cv_articles"] == str(N_ARTICLES)
    assert not client.search_registered_models()  # compares configurations, registers nothing


def test_no_rows_of_the_source_is_a_clear_error(corpus_files, tmp_path):
    labeled, _ = corpus_files
    cfg = compose_config("cross_validate", tmp_path / "experiments",
                         ["model=tfidf_linear", labeled_override(labeled), "cv.source=nowhere"])
    with pytest.raises(ValueError, match="no labeled segments with source 'nowhere'"):
        cross_validate(cfg)
