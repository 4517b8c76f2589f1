"""`tracking=server`: every job against a real `mlflow server`, artifacts served over HTTP.

The test starts the server on a free loopback port in a temporary folder, runs a training sweep,
predict and evaluate as real processes with only MLFLOW_TRACKING_URI pointing at it, and stops
it by its process id. The client's folder never holds a store or an artifact.
"""

import json
import socket
import subprocess
import sys
import urllib.error
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


def test_a_server_that_refuses_the_client_is_one_line(tmp_path, tiny_labeled_file):
    """A server that answers /health but refuses the client's API calls (MLflow's DNS-rebinding
    guard: a Host header it was not told) ends the job in one line, not a traceback."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    args = [str(BIN / "mlflow"), "server", "--backend-store-uri",
            f"sqlite:///{tmp_path}/mlflow.db", "--host", "127.0.0.1", "--port", str(port),
            "--allowed-hosts", "localhost:*"]  # not 127.0.0.1, the address the client uses
    with running(args, f"{uri}/health", clean_subprocess_env(), tmp_path / "server.log"):
        result = subprocess.run(
            [str(BIN / "topicstance-evaluate"), f"data_file='{tiny_labeled_file}'",
             "tracking=server", f"paths.experiments='{tmp_path}/client'"],
            env={**clean_subprocess_env(), "MLFLOW_TRACKING_URI": uri}, capture_output=True,
            text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"topicstance-evaluate: error: MLflow tracking server {uri} refused this client (HTTP 403")


def test_make_server_for_the_team_answers_this_machines_name(tmp_path):
    """`make server HOST=0.0.0.0` answers requests addressed to this machine's name (MLflow's
    default answers only localhost and private IPs) and no other, and tells clients that name."""
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    args = ["make", "-C", str(tmp_path), "-f", str(root / "Makefile"), f"BIN={BIN}",
            "-o", ".venv/.installed", "server", "HOST=0.0.0.0", f"PORT={port}"]
    log = tmp_path / "server.log"
    with running(args, f"http://127.0.0.1:{port}/health", clean_subprocess_env(), log):
        def status(host: str) -> int:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1",
                headers={"Host": f"{host}:{port}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as e:
                return e.code

        assert status(socket.gethostname()) == 200
        assert status("rebinding.example") == 403
    banner = next(line for line in log.read_text().splitlines() if "MLFLOW_TRACKING_URI=" in line)
    assert banner.endswith(f":{port}") and "0.0.0.0" not in banner  # an address clients can use
    assert (tmp_path / "experiments" / "server" / "mlflow.db").is_file()  # not the checkout's
