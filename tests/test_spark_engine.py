"""`engine=spark`: real Spark in local mode, against the same output contract as the local
engine (same rows and labels, nothing added by a re-run, exactly once after a kill)."""

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import SEEDS_FILE, clean_subprocess_env, new_store, read_jsonl, write_jsonl
from test_predict_batch import assert_exactly_once, cli, copy_pages, kill_when, parts, run_predict
from topicstance.outputs import read_segments

pytestmark = pytest.mark.slow
SPARK = ["engine=spark", "engine.master='local[2]'"]
KEYS = ["article_id", "segment_id", "start", "end", "source", "text"]
HEAVY = ["matplotlib", "torch", "transformers", "datasets", "trafilatura",
         "topicstance.pipelines.train", "topicstance.evaluate"]


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    s = new_store(tmp_path_factory.mktemp("spark"), tiny_labeled_file)
    s.train()
    return s


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("segment_id", ignore_index=True)


def test_spark_writes_what_the_local_engine_writes_and_a_rerun_adds_nothing(
        store, tmp_path, seeds_dir):
    local = run_predict(store, seeds_dir, tmp_path / "local")
    out = tmp_path / "spark"
    spark = run_predict(store, seeds_dir, out, *SPARK)
    assert spark["inference"]["engine"] == "spark" and spark["inference"]["master"] == "local[2]"
    assert spark["segments"] == local["segments"] > 0
    a, b = ordered(read_segments(tmp_path / "local")), ordered(read_segments(out))
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.equals(b.dtypes)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    assert a["stance"].tolist() == b["stance"].tolist()
    assert [sorted(t) for t in a["topics"]] == [sorted(t) for t in b["topics"]]
    scores = [c for c in a.columns if a[c].dtype == np.float64]
    assert scores, "the model's scores are float columns"
    np.testing.assert_allclose(a[scores].to_numpy(), b[scores].to_numpy(), atol=1e-5)
    assert (b["model_uri"] == local["model_uri"]).all()

    committed = parts(out)
    again = run_predict(store, seeds_dir, out, *SPARK)
    assert again["segments"] == 0 and again["files_unchanged"] == again["files_seen"] == 5
    assert parts(out) == committed
    assert "inference" not in again  # nothing to do: Spark was not even started


def test_spark_reads_segment_records_of_one_article_as_the_local_engine_does(store, tmp_path):
    """Records naming their `article_id` reach the executors as one ready-cut article."""
    records = [{"id": r["id"], "article_id": r["article_id"], "text": r["text"]}
               for r in read_jsonl(SEEDS_FILE)]
    write_jsonl(tmp_path / "in" / "segments.jsonl", records)
    run_predict(store, tmp_path / "in", tmp_path / "local")
    run_predict(store, tmp_path / "in", tmp_path / "spark", *SPARK)
    a, b = ordered(read_segments(tmp_path / "local")), ordered(read_segments(tmp_path / "spark"))
    assert len(a) == len(records) and a["article_id"].nunique() < len(records)
    pd.testing.assert_frame_equal(a[KEYS], b[KEYS])
    assert a["stance"].tolist() == b["stance"].tolist()


def test_spark_run_killed_mid_way_then_rerun_gives_every_article_exactly_once(store, tmp_path):
    inp, out, reference = tmp_path / "in", tmp_path / "out", tmp_path / "reference"
    copy_pages(inp, 2)
    # Two pages per part: five parts; the run is killed once three are committed.
    killed = cli(store, inp, out, *SPARK, "batch_segments=2", wait=False)
    kill_when(killed, out, "mid", timeout=400)
    assert killed.returncode == -signal.SIGKILL, "the run ended before the kill"
    committed = len(parts(out))
    assert 3 <= committed < 5
    record = run_predict(store, inp, out, *SPARK)
    assert record["articles_unchanged"] >= 2 * committed  # committed work was not redone
    run_predict(store, inp, reference)  # the local engine, uninterrupted
    expected = read_segments(reference)
    got = assert_exactly_once(out, set(expected["article_id"]))
    assert sorted(got["segment_id"]) == sorted(expected["segment_id"])
    runs = [json.loads(p.read_text()) for p in sorted((out / "_runs").glob("*.json"))]
    assert [r["status"] for r in runs] == ["interrupted", "finished"]


def test_loading_the_model_for_inference_imports_no_training_stack(store):
    """What every executor (and `mlflow models serve`) pays for before its first prediction."""
    code = ("import sys, mlflow, pandas as pd; "
            f"mlflow.set_tracking_uri({store.uri!r}); "
            "model = mlflow.pyfunc.load_model('models:/topicstance@champion'); "
            "model.predict(pd.DataFrame({'text': ['Sanctions on Moscow.']})); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], env=clean_subprocess_env(),
                            capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_spark_run_prints_its_record_not_spark_or_mlflow_start_up_noise(store, tmp_path):
    """Spark's JVM logs through conf/engine/spark-log4j2.properties (WARN and above), and MLflow
    ships the model to the executors without a progress bar or INFO line per copy."""
    inp = tmp_path / "in"
    copy_pages(inp, 1)
    result = cli(store, inp, tmp_path / "out", *SPARK)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "finished"
    for noise in ("INFO", "log4j profile", "setLogLevel", "NativeCodeLoader",
                  "Downloading artifacts"):
        assert noise not in result.stderr, result.stderr
