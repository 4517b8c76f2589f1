"""`engine=spark`: real Spark in local mode, against the same output contract as the local
engine (same rows and labels, nothing added by a re-run, exactly once after a kill)."""

import json
import signal

import numpy as np
import pandas as pd
import pytest

from conftest import new_store
from test_predict_batch import assert_exactly_once, cli, copy_pages, kill_when, parts, run_predict
from topicstance.outputs import read_segments

pytestmark = pytest.mark.slow
SPARK = ["engine=spark", "engine.master='local[2]'"]
KEYS = ["article_id", "segment_id", "start", "end", "source", "text"]


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    s = new_store(tmp_path_factory.mktemp("spark"), tiny_labeled_file)
    s.train()
    return s


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("segment_id", ignore_index=True)


def test_spark_and_local_engines_write_the_same_rows_and_labels(store, tmp_path, seeds_dir):
    local = run_predict(store, seeds_dir, tmp_path / "local")
    spark = run_predict(store, seeds_dir, tmp_path / "spark", *SPARK)
    assert spark["inference"]["engine"] == "spark" and spark["inference"]["master"] == "local[2]"
    assert spark["segments"] == local["segments"] > 0
    a, b = ordered(read_segments(tmp_path / "local")), ordered(read_segments(tmp_path / "spark"))
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.equals(b.dtypes)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    assert a["stance"].tolist() == b["stance"].tolist()
    assert [sorted(t) for t in a["topics"]] == [sorted(t) for t in b["topics"]]
    scores = [c for c in a.columns if a[c].dtype == np.float64]
    assert scores, "the model's scores are float columns"
    np.testing.assert_allclose(a[scores].to_numpy(), b[scores].to_numpy(), atol=1e-5)
    assert (b["model_uri"] == local["model_uri"]).all()


def test_a_second_spark_run_over_the_same_input_adds_nothing(store, tmp_path, seeds_dir):
    out = tmp_path / "out"
    first = run_predict(store, seeds_dir, out, *SPARK)
    committed = parts(out)
    second = run_predict(store, seeds_dir, out, *SPARK)
    assert first["segments"] > 0 and second["segments"] == 0
    assert second["files_unchanged"] == second["files_seen"] == 5
    assert parts(out) == committed
    assert "inference" not in second  # nothing to do: Spark was never started


def test_spark_run_killed_mid_way_then_rerun_gives_every_article_exactly_once(store, tmp_path):
    inp, out, reference = tmp_path / "in", tmp_path / "out", tmp_path / "reference"
    copy_pages(inp, 4)
    # Two pages per part: the run commits several parts, and is killed after the third.
    killed = cli(store, inp, out, *SPARK, "batch_segments=2", wait=False)
    kill_when(killed, out, "mid", timeout=300)
    assert killed.returncode == -signal.SIGKILL, "the run ended before the kill"
    committed = len(parts(out))
    assert 3 <= committed < 10
    rerun = cli(store, inp, out, *SPARK, "batch_segments=2", timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    record = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert record["articles_unchanged"] >= 2 * committed  # committed work was not redone
    assert cli(store, inp, reference).returncode == 0  # the local engine, uninterrupted
    expected = read_segments(reference)
    got = assert_exactly_once(out, set(expected["article_id"]))
    assert sorted(got["segment_id"]) == sorted(expected["segment_id"])
    runs = [json.loads(p.read_text()) for p in sorted((out / "_runs").glob("*.json"))]
    assert [r["status"] for r in runs] == ["interrupted", "finished"]
