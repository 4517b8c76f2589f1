"""REST serving: a real `mlflow models serve` of the champion, posted a request."""

import json
import os
import sys
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
    args = [str(BIN / "mlflow"), "models", "serve", "-m", "models:/topicstance@champion",
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    # The scoring server runs `uvicorn` from PATH: this environment's, as `make serve` does.
    env = {**clean_subprocess_env(), "MLFLOW_TRACKING_URI": store.uri,
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with running(args, f"http://127.0.0.1:{port}/ping", env, tmp_path / "serve.log"):
        body = json.dumps({"dataframe_records": [{"text": t} for t in SEGMENTS]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])

    tracking.configure(store.make("predict", ["input=x", "output=y"]).tracking)
    uri = tracking.resolve_model_uri("models:/topicstance@champion")
    assert list(served.columns) == tracking.model_output_columns(uri)
    local = tracking.load_pyfunc(uri).predict(pd.DataFrame({"text": SEGMENTS}))
    assert served["topics"].tolist() == [list(t) for t in local["topics"]]
    assert served["stance"].tolist() == local["stance"].tolist()
    assert "sanctions" in served["topics"][0] and served["topics"][1] == []
