"""`tracking=server`: every job against a real `mlflow server`, artifacts served over HTTP.

The test starts the server on a free loopback port in a temporary folder, runs a training sweep,
predict and evaluate as real processes with only MLFLOW_TRACKING_URI pointing at it, and stops
it by its process id. The client's folder never holds a store or an artifact.
"""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conftest import clean_subprocess_env, labeled_override
from servers import answers, free_port, running, stop

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def job(name: str, uri: str, client_dir: Path, *overrides, multirun=False):
    args = [str(BIN / f"topicstance-{name}"), *(["--multirun"] if multirun else []),
            "tracking=server", f"paths.experiments='{client_dir}'", *overrides]
    env = {**clean_subprocess_env(), "MLFLOW_TRACKING_URI": uri}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
    return result


def test_train_sweep_predict_evaluate_against_a_real_tracking_server(
        tmp_path, tiny_labeled_file, seeds_dir):
    server_dir, client_dir = tmp_path / "server", tmp_path / "client"
    server_dir.mkdir()
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    args = [str(BIN / "mlflow"), "server", "--backend-store-uri",
            f"sqlite:///{server_dir}/mlflow.db", "--artifacts-destination",
            str(server_dir / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1",
            "--port", str(port)]
    with running(args, f"{uri}/health", clean_subprocess_env(), tmp_path / "server.log") as proc:
        # A two-point sweep of the fast model: two registered versions, the better one champion.
        job("train", uri, client_dir, "model=tfidf_linear", "model.C=1,4",
            labeled_override(tiny_labeled_file), multirun=True)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        versions = client.search_model_versions("name='topicstance'")
        assert sorted(int(v.version) for v in versions) == [1, 2]
        champion = client.get_model_version_by_alias("topicstance", "champion")
        train_run = client.get_run(champion.run_id)
        assert train_run.data.tags["job"] == "train" and train_run.info.status == "FINISHED"
        assert train_run.info.artifact_uri.startswith("mlflow-artifacts:/")

        out = tmp_path / "out"
        predicted = job("predict", uri, client_dir, f"input='{seeds_dir}'", f"output='{out}'")
        record = json.loads(predicted.stdout.strip().splitlines()[-1])
        assert record["model_uri"] == f"models:/topicstance/{champion.version}"
        assert record["segments"] > 0 and list(out.glob("segments/run_date=*/part-*.parquet"))
        assert client.get_run(record["mlflow_run_id"]).data.metrics["segments"] == \
            record["segments"]

        job("evaluate", uri, client_dir, f"data_file='{tiny_labeled_file}'")
        (evaluation,) = client.search_runs([train_run.info.experiment_id],
                                           "tags.job = 'evaluate'")
        assert 0 < evaluation.data.metrics["eval/mean_macro_f1"] <= 1

        # An artifact of the champion's run, fetched from the server over plain HTTP: it lies
        # in the server's artifact folder, and the client holds no store and no artifact.
        path = train_run.info.artifact_uri.removeprefix("mlflow-artifacts:/") + "/split.json"
        with urllib.request.urlopen(f"{uri}/api/2.0/mlflow-artifacts/artifacts/{path}") as r:
            split = json.loads(r.read())
        assert split["train_articles"] and split["dev_articles"]
        assert (server_dir / "artifacts" / path).is_file()
        assert not list(client_dir.rglob("mlflow.db")) and not (client_dir / "artifacts").exists()

        stop(proc)
        assert proc.returncode is not None and not answers(f"{uri}/health")
