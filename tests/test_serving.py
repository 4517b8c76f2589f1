"""REST serving: `topicstance-serve` (what `make serve` runs) starts a real `mlflow models
serve` of the champion, posted a request; with no champion it stops in one line."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from conftest import clean_subprocess_env, new_store
from servers import free_port, running
from topicstance import tracking

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SEGMENTS = [("The European Union adopted a new sanctions package that freezes the assets of "
             "Sovcomflot and bans exports of microchips to Russia."),
            "Heavy rain flooded streets in Riga on Sunday and the weather service expects more."]


def test_mlflow_models_serve_answers_with_the_champions_columns_and_labels(
        tmp_path, tiny_labeled_file):
    store = new_store(tmp_path, tiny_labeled_file)
    store.train()
    port = free_port()
    args = [str(BIN / "topicstance-serve"), "--port", str(port)]  # the champion by default
    # The scoring server runs `uvicorn` from PATH: this environment's, as `make serve` does.
    env = {**clean_subprocess_env(), "MLFLOW_TRACKING_URI": store.uri,
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with running(args, f"http://127.0.0.1:{port}/ping", env, tmp_path / "serve.log"):
        body = json.dumps({"dataframe_records": [{"text": t} for t in SEGMENTS]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])
        blank = json.dumps({"dataframe_records": [{"text": SEGMENTS[0]}, {"text": None}]}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/invocations", data=blank,
                headers={"Content-Type": "application/json"}), timeout=60)
        assert refused.value.code == 400
        reply = json.loads(refused.value.read())
        assert reply["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "'text' is missing or empty in row(s) 2 of 2" in reply["message"]
        assert "stack_trace" not in reply

    tracking.configure(store.make("predict", ["input=x", "output=y"]).tracking)
    uri = tracking.resolve_model_uri("models:/topicstance@champion")
    assert list(served.columns) == tracking.model_output_columns(uri)
    local = tracking.load_pyfunc(uri).predict(pd.DataFrame({"text": SEGMENTS}))
    assert served["topics"].tolist() == [list(t) for t in local["topics"]]
    assert served["stance"].tolist() == local["stance"].tolist()
    assert "sanctions" in served["topics"][0] and served["topics"][1] == []


def test_with_no_champion_serve_stops_in_one_line(tmp_path):
    env = {**clean_subprocess_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/empty.db"}
    result = subprocess.run([str(BIN / "topicstance-serve"), "--port", str(free_port())],
                            check=False, env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "topicstance-serve: error: no model version holds models:/topicstance@champion")
