"""Everything MLflow, in one place: runs, params, metrics, artifacts, models and the registry.

The rest of the package hands plain values in and gets plain values back, so swapping the
embedded sqlite store for a real server is a config change (`tracking=server`).
"""

import importlib.metadata
import os
import tempfile
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from omegaconf import OmegaConf

import topicstance
from topicstance.models.base import TopicStanceModel

PYFUNC_ENTRY = Path(__file__).parent / "models" / "pyfunc_entry.py"
PACKAGE_DIR = Path(topicstance.__file__).parent


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    promoted: bool
    reason: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class TrackingUnavailable(RuntimeError):
    """The tracking server or store cannot be reached."""


def configure(tracking_cfg) -> None:
    """Point MLflow at the configured store and make sure the experiment exists."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    check_reachable(tracking_cfg.uri)
    mlflow.set_tracking_uri(tracking_cfg.uri)
    mlflow.set_registry_uri(tracking_cfg.uri)
    if mlflow.get_experiment_by_name(tracking_cfg.experiment) is None:
        location = tracking_cfg.get("artifact_location")
        if location:
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
        mlflow.create_experiment(tracking_cfg.experiment, artifact_location=location)
    mlflow.set_experiment(tracking_cfg.experiment)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with the URI named, instead of MLflow's minutes of retries."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (OSError, ValueError) as e:
        problem = str(getattr(e, "reason", e))
    raise TrackingUnavailable(
        f"MLflow tracking server {uri} is unreachable ({problem}); start it (`make server`) or "
        f"point MLFLOW_TRACKING_URI at a running one")


@contextmanager
def run(job: str, run_name: str | None = None, tags: dict | None = None):
    with mlflow.start_run(run_name=run_name, tags={"job": job, **(tags or {})}) as active:
        yield active


def log_config(cfg) -> None:
    """The resolved config as an artifact, and flattened into params (long values trimmed)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    mlflow.log_text(OmegaConf.to_yaml(container), "config.yaml")
    mlflow.log_params({k: str(v)[:500] for k, v in _flatten(container).items()})


def _flatten(node, prefix=""):
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        items = enumerate(node)
    else:
        return {prefix.rstrip("."): node}
    out = {}
    for key, value in items:
        out.update(_flatten(value, f"{prefix}{key}."))
    return out


def log_metrics(metrics: dict[str, float], prefix: str = "", step: int | None = None) -> None:
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items()}, step=step)


def log_params(params: dict) -> None:
    mlflow.log_params(params)


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_dict(data, artifact_file: str) -> None:
    mlflow.log_dict(data, artifact_file)


def log_figure(figure, artifact_file: str) -> None:
    mlflow.log_figure(figure, artifact_file)


def log_model(model: TopicStanceModel, example_texts: list[str]) -> str:
    """Log `model` as a pyfunc (signature, input example, pinned requirements); returns its URI."""
    import pandas as pd

    example = pd.DataFrame({"text": list(example_texts)})
    outputs = infer_signature(example, model.predict_frame(example["text"].tolist())).outputs
    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "headline", required=False),
                     ColSpec("string", "previous", required=False)])
    signature = ModelSignature(inputs=inputs, outputs=outputs)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / "model")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_ENTRY),
            artifacts={"model": str(model_dir)},
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=example,
            pip_requirements=_pinned_requirements(),
        )
    return info.model_uri


def _pinned_requirements() -> list[str]:
    """The package's own pinned dependencies (not its extras), read from its metadata."""
    requires = importlib.metadata.requires("topicstance") or []
    return [r for r in requires if "extra ==" not in r]


def register(model_uri: str, name: str, alias: str, policy: str, metric: str,
             metrics: dict[str, float]) -> Registered:
    """Register a new version of `name`; move `alias` to it according to `policy`.

    policy: `always`, `never`, or `if_better` (move when there is no holder of the alias yet,
    or when this run's `metric` beats the holder's run's).
    """
    client = MlflowClient()
    version = mlflow.register_model(model_uri, name).version
    client.set_model_version_tag(name, version, metric, str(metrics.get(metric)))
    current = _alias_holder(client, name, alias)
    if policy == "always":
        promote, reason = True, "policy=always"
    elif policy == "never":
        promote, reason = False, "policy=never"
    elif current is None:
        promote, reason = True, f"no version held @{alias}"
    else:
        held = client.get_run(current.run_id).data.metrics.get(metric, float("-inf"))
        promote = metrics[metric] > held
        reason = (f"{metric} {metrics[metric]:.4f} vs {held:.4f} "
                  f"of version {current.version} @{alias}")
    if promote:
        client.set_registered_model_alias(name, alias, version)
    return Registered(name, str(version), promote, reason)


def _alias_holder(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def resolve_model_uri(uri: str) -> str:
    """`models:/name@alias` -> `models:/name/<version>`, so outputs name the exact version."""
    if uri.startswith("models:/") and "@" in uri:
        name, alias = uri[len("models:/"):].split("@", 1)
        holder = _alias_holder(MlflowClient(), name, alias)
        if holder is None:
            raise LookupError(f"no model version holds {uri}; run `make train` first "
                              f"(tracking URI: {mlflow.get_tracking_uri()})")
        return f"models:/{name}/{holder.version}"
    return uri


def model_output_columns(uri: str) -> list[str]:
    """The pyfunc's output columns, from its logged signature (the model is not loaded)."""
    return mlflow.models.get_model_info(uri).signature.outputs.input_names()


def current_run_id() -> str:
    return mlflow.active_run().info.run_id


def mark_killed(run_id: str) -> None:
    """Close a run whose process was killed (it would otherwise stay RUNNING forever)."""
    client = MlflowClient()
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status="KILLED")


def load_pyfunc(uri: str):
    return mlflow.pyfunc.load_model(uri)


def load_model_object(uri: str) -> TopicStanceModel:
    """The TopicStanceModel inside a logged pyfunc, for benchmarks that change its settings."""
    return load_pyfunc(uri).unwrap_python_model().model


def training_run_dict(model_uri: str, artifact_file: str) -> dict:
    """A JSON artifact of the run that trained the registered version `models:/name/version`."""
    name, version = model_uri[len("models:/"):].split("/")
    run_id = MlflowClient().get_model_version(name, version).run_id
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact_file}")


def latest_runs_by_variant(job: str = "train", run_name: str | None = None) -> list[dict]:
    """The newest finished run of each variant (a model family, or a named change to one):
    its variant, metrics and run id."""
    query = f"tags.job = '{job}' and attributes.status = 'FINISHED'"
    if run_name:
        query += f" and attributes.run_name = '{run_name}'"
    runs = mlflow.search_runs(filter_string=query, order_by=["attributes.start_time DESC"],
                              output_format="list")
    latest = {}
    for r in runs:
        latest.setdefault(r.data.tags.get("variant") or r.data.tags.get("model_family"), r)
    return [{"variant": variant, "run_id": r.info.run_id, "metrics": dict(r.data.metrics)}
            for variant, r in latest.items()]
