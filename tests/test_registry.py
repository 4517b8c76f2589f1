"""The leaderboard, promotion by hand and reproducibility, on a tmp sqlite store (TF-IDF on the
tiny corpus, trained in-process the way the entry points call the pipelines)."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_subprocess_env, new_store, read_jsonl, write_jsonl
from topicstance import tracking
from topicstance.pipelines.evaluate import evaluate_model
from topicstance.pipelines.leaderboard import leaderboard, render
from topicstance.pipelines.promote import promote
from topicstance.tracking import PromotionRefused

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
MODEL, ALIAS = "topicstance", "champion"
WORSE = ["model.C=0.001", "model.class_weight_balanced=false"]  # near-constant scores
OTHER_TAXONOMY = "labels.name=another_taxonomy_v2"
TIMINGS = ("train_seconds", "dev/segments_per_second")


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    """v1: good; v2: worse, made champion (promote=always); v3: v1 again, never promoted; v4: v1
    under another taxonomy name, trained with the automatic rule (if_better)."""
    s = new_store(tmp_path_factory.mktemp("registry"), tiny_labeled_file)
    s.good = s.train()
    s.worse = s.train("registry.promote=always", *WORSE)
    s.again = s.train("registry.promote=never")
    s.other = s.train("registry.promote=if_better", OTHER_TAXONOMY)
    s.version_runs = {str(v.version): v.run_id
                      for v in s.client.search_model_versions(f"name='{MODEL}'")}
    return s


def champion(s):
    return s.client.get_model_version_by_alias(MODEL, ALIAS)


def champion_version(s) -> str:
    return str(champion(s).version)


def test_training_twice_gives_identical_metrics(store):
    """Same config, same data, same seed: scikit-learn models repeat exactly."""
    first = {k: v for k, v in store.good.items() if k not in TIMINGS}
    second = {k: v for k, v in store.again.items() if k not in TIMINGS}
    assert first == second
    runs = [store.client.get_run(store.version_runs[v]) for v in ("1", "3")]
    digests = [{i.dataset.digest for i in r.inputs.dataset_inputs} for r in runs]
    assert digests[0] == digests[1]


def test_leaderboard_ranks_by_the_metric(store):
    cfg = store.make("leaderboard")
    frame = leaderboard(cfg)
    assert len(frame) == 3  # v4 follows another taxonomy: ranked only under its own labels
    assert store.version_runs["4"] not in frame["run_id"].tolist()
    assert frame["rank"].tolist() == [1, 2, 3]
    assert leaderboard(store.make("leaderboard", [OTHER_TAXONOMY]))["run_id"].tolist() == [
        store.version_runs["4"]]
    values = frame["dev/mean_macro_f1"].tolist()
    assert values == sorted(values, reverse=True)
    assert frame["run_id"].iloc[-1] == store.version_runs["2"]  # the worse model is last
    assert set(frame["family"]) == {"tfidf_linear"}
    assert frame["model.C"].iloc[-1] == "0.001"
    assert frame["train_digest"].notna().all()

    ascending = leaderboard(store.make("leaderboard", ["ascending=true", "limit=2"]))
    assert ascending["run_id"].tolist()[0] == store.version_runs["2"] and len(ascending) == 2

    rows = list(csv.DictReader(io.StringIO(render(frame, "csv"))))
    assert [r["run_id"] for r in rows] == frame["run_id"].tolist()
    markdown = render(frame, "markdown").splitlines()
    assert markdown[0].startswith("| rank | run_id |") and len(markdown) == 2 + len(frame)

    with pytest.raises(LookupError, match=r"no training run logged the metric 'dev/nope'.*"
                                          r"dev/mean_macro_f1"):
        leaderboard(store.make("leaderboard", ["metric=dev/nope"]))
    with pytest.raises(LookupError, match="no sweep yet in experiment"):  # no sweep in this store
        leaderboard(store.make("leaderboard", ["sweep=latest"]))


def test_automatic_rule_keeps_the_champion_across_taxonomies(store):
    # v4 beats the champion (v2) on dev but follows another taxonomy: the alias stayed.
    assert store.other["dev/mean_macro_f1"] > store.worse["dev/mean_macro_f1"]
    assert champion_version(store) == "2"
    v4 = store.client.get_model_version(MODEL, "4")
    assert v4.tags["taxonomy"] == "another_taxonomy_v2"


def test_promote_moves_the_alias_and_records_who_why_when(store):
    moved = promote(store.make("promote", [f"run={store.version_runs['3']}", "by=analyst",
                                           "reason='same model, rerun'"]))
    assert moved["moved"] and moved["model_uri"] == "models:/topicstance/3"
    held = champion(store)
    assert str(held.version) == "3"
    assert held.tags["promoted_by"] == "analyst"
    assert held.tags["promoted_reason"] == "same model, rerun"
    assert held.tags["promoted_at"][:2] == "20"

    promote(store.make("promote", ["version=1"]))
    assert champion_version(store) == "1"
    assert champion(store).tags["promoted_reason"] == "manual promotion"


def test_promote_refuses_another_taxonomy_and_unknown_versions(store):
    with pytest.raises(PromotionRefused, match="another_taxonomy_v2"):
        promote(store.make("promote", ["version=4"]))
    with pytest.raises(PromotionRefused, match="no version 99"):
        promote(store.make("promote", ["version=99"]))
    with pytest.raises(ValueError, match="either run="):
        promote(store.make("promote"))
    assert champion_version(store) == "1"


def test_promote_console_script_fails_in_one_line(store, tmp_path):
    result = subprocess.run(
        [str(BIN / "topicstance-promote"), "version=4", f"paths.experiments='{store.experiments}'",
         f"tracking.uri='{store.uri}'"],
        check=False, cwd=tmp_path, env=clean_subprocess_env(), capture_output=True, text=True,
        timeout=180)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("topicstance-promote: error: ")
    assert "Traceback" not in result.stderr
    assert champion_version(store) == "1"


def test_train_and_evaluate_fail_in_one_line_without_their_dependencies(store, tmp_path):
    """No such model version, no such data file, no tracking server: one line on stderr naming
    what is missing, exit status 1, no traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    paths = [f"paths.experiments='{store.experiments}'"]
    cases = {
        "topicstance-evaluate": [
            ([f"tracking.uri='{store.uri}'", f"model_uri=models:/{MODEL}/99",
              f"data_file='{store.labeled}'"], "no version 99 of registered model"),
            ([f"tracking.uri='{store.uri}'", f"data_file='{tmp_path / 'missing.jsonl'}'"],
             "missing.jsonl:0: cannot read")],
        "topicstance-train": [
            ([f"tracking.uri='http://127.0.0.1:{port}'"], "is unreachable"),
            ([f"tracking.uri='{store.uri}'", f"data.labeled=['{tmp_path / 'missing.jsonl'}']"],
             "no valid labeled records")],
    }
    for script, runs in cases.items():
        for overrides, message in runs:
            result = subprocess.run(
                [str(BIN / script), *paths, *overrides], check=False, cwd=tmp_path,
                env=clean_subprocess_env(), capture_output=True, text=True, timeout=180)
            assert result.returncode == 1, (script, result.stderr[-2000:])
            assert "Traceback" not in result.stderr, (script, result.stderr[-2000:])
            error = result.stderr[result.stderr.find(f"{script}: error: "):]
            assert error.startswith(script) and message in error, (script, result.stderr[-2000:])
            assert "set aside" not in result.stderr  # the one error line says it all


def test_a_champion_from_another_dev_split_is_compared_on_rows_neither_trained_on(
        tmp_path, tiny_labeled_file, caplog):
    """The labeled data changed (here: another split seed), so the two runs' own dev figures
    score different segments, some of which the champion trained on: the automatic rule scores
    both models on the new dev articles that the champion never saw, as `make evaluate` would."""
    s = new_store(tmp_path, tiny_labeled_file)
    split = ["data.dev_fraction=0.5", "registry.min_shared_dev_segments=1"]
    s.train(*split, "seed=1")
    with caplog.at_level("INFO", logger="topicstance.pipelines.train"):
        s.train(*split, "seed=2", *WORSE)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("registered")]

    runs = {str(v.version): v.run_id for v in s.client.search_model_versions(f"name='{MODEL}'")}
    tracking.configure(s.make("evaluate").tracking)
    seen = set(tracking.load_run_dict(runs["1"], "split.json")["train_articles"])
    unseen = set(tracking.load_run_dict(runs["2"], "split.json")["dev_articles"]) - seen
    rows = [r for r in read_jsonl(tiny_labeled_file) if r["article_id"] in unseen]
    shared = write_jsonl(tmp_path / "shared.jsonl", rows)
    scores = {v: evaluate_model(s.make("evaluate", [f"model_uri=models:/{MODEL}/{v}",
                                                    f"data_file='{shared}'"]))["mean_macro_f1"]
              for v in ("1", "2")}
    assert rows and f"both on the {len(rows)} dev segments neither trained on" in line
    assert f"dev/mean_macro_f1 {scores['2']:.4f} vs {scores['1']:.4f} of version 1" in line
    assert scores["2"] < scores["1"]  # the near-constant model lost on the same rows
    assert "kept alias champion" in line and champion_version(s) == "1"

    caplog.clear()
    with caplog.at_level("INFO", logger="topicstance.pipelines.train"):
        s.train("data.dev_fraction=0.5", "registry.min_shared_dev_segments=100000", "seed=3")
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("registered")]
    assert "(from different dev splits, not rescored on rows both left unseen)" in line
