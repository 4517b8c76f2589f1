"""Sweeps under one MLflow parent run, through the real console script (Hydra's launcher and
the parent-run callback), against a tmp sqlite store; TF-IDF on the tiny corpus for speed.

One sweep of three jobs serves every test (a sweep costs a process start): two that train and,
between them, one that fails (C must be positive), so the failure must not stop the sweep."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_subprocess_env, labeled_override, new_store, tiny_corpus, write_jsonl

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PARENT = "mlflow.parentRunId"


def run_sweep(root: Path, labeled: Path, *overrides, exit_code: int = 0):
    """`topicstance-train --multirun ...` on the tiny corpus; returns the store and the result
    (exit code 1 when a job failed)."""
    store = new_store(root, labeled)
    # Its last line is not JSON: set aside, the other 24 records scored.
    heldout = write_jsonl(root / "heldout.jsonl", tiny_corpus(4, prefix="heldout") + ["{oops"])
    result = subprocess.run(
        [str(BIN / "topicstance-train"), "--multirun", "model=tfidf_linear",
         labeled_override(labeled), f"data.heldout=['{heldout}']",
         f"paths.experiments='{store.experiments}'", f"tracking.uri='{store.uri}'",
         "registry.promote=never", *overrides],
        check=False, cwd=root, env=clean_subprocess_env(), capture_output=True, text=True,
        timeout=600)
    assert result.returncode == exit_code, result.stderr[-3000:]
    experiment = store.client.get_experiment_by_name("topicstance").experiment_id
    store.runs = store.client.search_runs([experiment])
    store.parents = [r for r in store.runs if r.data.tags.get("job") == "sweep"]
    trained = [r for r in store.runs if r.data.tags.get("job") == "train"]
    store.children = [r for r in trained if r.info.status == "FINISHED"]
    store.failed = [r for r in trained if r.info.status != "FINISHED"]
    store.stdout = result.stdout
    return store


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_labeled_file):
    return run_sweep(tmp_path_factory.mktemp("sweep"), tiny_labeled_file, "model.C=1,-1,4",
                     exit_code=1)  # the C=-1 job fails; the sweep goes on, then exits 1


def test_one_parent_holds_the_children(sweep):
    (parent,) = sweep.parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["sweep_keys"] == "model.C"
    assert len(sweep.children) == 2 and len(sweep.failed) == 1
    assert {c.data.tags[PARENT] for c in sweep.children + sweep.failed} == {parent.info.run_id}
    assert sorted(c.data.params["model.C"] for c in sweep.children) == ["1", "4"]
    # Children are named by what the sweep varied.
    assert sorted(c.info.run_name for c in sweep.children) == ["tfidf_linear C=1",
                                                               "tfidf_linear C=4"]


def test_children_carry_the_same_metrics_plots_and_datasets(sweep, tmp_path):
    keys = [set(c.data.metrics) for c in sweep.children]
    assert keys[0] == keys[1]
    assert {"dev/mean_macro_f1", "heldout/heldout/mean_macro_f1",
            "heldout/heldout/alone/topic_macro_f1", "heldout/heldout/alone/stance_macro_f1"
            } <= keys[0]  # the held-out file scored with its articles, and segment by segment
    for child in sweep.children:
        run_id = child.info.run_id
        dev = {a.path for a in sweep.client.list_artifacts(run_id, "dev")}
        assert dev == {f"dev/{name}" for name in (
            "classification_report.txt", "stance_confusion.png", "topic_scores.png",
            "stance_reliability.png", "worst_misclassified.json")}
        assert {a.path for a in sweep.client.list_artifacts(run_id, "hydra")} >= {
            "hydra/config.yaml", "hydra/overrides.yaml"}
        inputs = {next(t.value for t in i.tags if t.key == "mlflow.data.context"):
                  i.dataset for i in child.inputs.dataset_inputs}
        assert set(inputs) == {"training", "validation", "evaluation"}
        assert inputs["evaluation"].name == "heldout"
        assert all(d.digest for d in inputs.values())
        tags = child.data.tags
        assert tags["taxonomy"] == "ukraine_war_v1" and tags["model_family"] == "tfidf_linear"
        assert len(tags["git_commit"]) == 40 and tags["git_dirty"] in {"true", "false"}
        assert "model.C=" in tags["hydra_overrides"]
        assert child.data.params["model.family"] == "tfidf_linear"  # flattened config
        (tmp_path / run_id).mkdir()
        set_aside = json.loads(Path(sweep.client.download_artifacts(
            run_id, "rejected_labeled.json", str(tmp_path / run_id))).read_text())
        assert [(Path(r["file"]).name, r["line"], r["raw"]) for r in set_aside] == [
            ("heldout.jsonl", 25, "{oops")]
    # Same data, same seed: both children saw the same split.
    digests = [{i.dataset.digest for i in c.inputs.dataset_inputs} for c in sweep.children]
    assert digests[0] == digests[1]


def test_parent_carries_the_comparison(sweep, tmp_path):
    (parent,) = sweep.parents
    artifacts = {a.path for a in sweep.client.list_artifacts(parent.info.run_id)}
    assert {"comparison.md", "comparison.csv", "comparison.json", "comparison.png"} <= artifacts
    table = Path(sweep.client.download_artifacts(parent.info.run_id, "comparison.md",
                                                 str(tmp_path))).read_text()
    rows = [table.index(f"| `tfidf_linear C={c}") for c in ("1", "-1", "4")]
    assert rows == sorted(rows), "rows in the order the sweep ran its jobs"
    assert table in sweep.stdout  # the sweep prints it too
    assert parent.data.tags["children"] == "3" and parent.data.tags["failed_children"] == "1"


def test_a_failed_child_is_recorded_and_the_sweep_goes_on(sweep):
    (failed,) = sweep.failed
    assert failed.info.status == "FAILED"
    assert failed.data.params["model.C"] == "-1"
    assert "InvalidParameterError" in failed.data.tags["error"]
    # The job after it trained: C=4 ran third.
    assert {c.data.params["model.C"] for c in sweep.children} == {"1", "4"}
    assert "`tfidf_linear C=-1 (FAILED)`" in sweep.stdout
    # The sweep exits 1 (run_sweep checks it), its parent run still FINISHED: two jobs did.
    assert [p.info.status for p in sweep.parents] == ["FINISHED"]
