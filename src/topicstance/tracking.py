"""Everything MLflow, in one place: runs, params, metrics, artifacts, models and the registry.

The rest of the package hands plain values in and gets plain values back, so swapping the
embedded sqlite store for a real server is a config change (`tracking=server`).
"""

import hashlib
import importlib.metadata
import json
import logging
import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from omegaconf import OmegaConf

import topicstance
from topicstance.models.base import META_FILE, TopicStanceModel

PYFUNC_ENTRY = Path(__file__).parent / "models" / "pyfunc_entry.py"
PACKAGE_DIR = Path(topicstance.__file__).parent
# Set by the sweep callback (topicstance.sweeps) for the jobs of a multirun, which may run in
# other processes: every run started while it is set becomes a child of that parent run.
SWEEP_PARENT_ENV = "TOPICSTANCE_SWEEP_PARENT_RUN_ID"
MAX_PARAM_CHARS = 500


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
    try:
        experiment = mlflow.get_experiment_by_name(tracking_cfg.experiment)
    except MlflowException as e:  # a server that answers /health but refuses this client
        raise TrackingUnavailable(_refused(tracking_cfg.uri, e)) from None
    if experiment is None:
        # A server keeps artifacts where it serves them from; a local path would send every
        # client's artifacts to its own disk.
        location = None if _is_server(tracking_cfg.uri) else tracking_cfg.get("artifact_location")
        if location:
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
        mlflow.create_experiment(tracking_cfg.experiment, artifact_location=location)
    mlflow.set_experiment(tracking_cfg.experiment)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with the URI named, instead of MLflow's minutes of retries."""
    if not _is_server(uri):
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


def _refused(uri: str, error: MlflowException) -> str:
    """One line for an API call the server refused; a 403 is MLflow's guard against DNS
    rebinding, which answers only requests addressed to the names the server was given."""
    if "403" in str(error):
        return (f"MLflow tracking server {uri} refused this client (HTTP 403: it does not answer "
                f"requests addressed to {urllib.parse.urlsplit(uri).netloc}); start it with `make "
                f"server HOST=0.0.0.0`, which answers this machine's names and private addresses, "
                f"or add the name with ALLOWED_HOSTS=...")
    return f"MLflow tracking server {uri} refused the request: {str(error).splitlines()[0]}"


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


@contextmanager
def run(job: str, run_name: str | None = None, tags: dict | None = None):
    """An MLflow run; a child of the current sweep's parent run when there is one. A run that
    raises ends FAILED with the error as its `error` tag."""
    tags = {"job": job, **(tags or {})}
    if os.environ.get(SWEEP_PARENT_ENV):
        tags[MLFLOW_PARENT_RUN_ID] = os.environ[SWEEP_PARENT_ENV]
    with mlflow.start_run(run_name=run_name, tags=tags) as active:
        try:
            yield active
        except BaseException as e:
            mlflow.set_tag("error", f"{type(e).__name__}: {e}"[:5000])
            raise


def log_config(cfg) -> None:
    """The resolved config as an artifact, and flattened into dotted params."""
    container = OmegaConf.to_container(cfg, resolve=True)
    mlflow.log_text(OmegaConf.to_yaml(container), "config.yaml")
    mlflow.log_params({k: _shorten(str(v)) for k, v in _flatten(container).items()})


def _shorten(value: str) -> str:
    """Values past MLflow's comfortable length keep their start and a digest of the whole, so
    two different long values never read as equal."""
    if len(value) <= MAX_PARAM_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
    return f"{value[:MAX_PARAM_CHARS - 30]}... (sha256 {digest})"


def log_job_context(project_root: str, taxonomy) -> None:
    """Tags that say where a run came from: the Hydra overrides (and the `.hydra/` files as
    artifacts, when Hydra runs the job), the git commit and whether the checkout was dirty,
    and the taxonomy the labels follow."""
    from hydra.core.hydra_config import HydraConfig

    tags = {"taxonomy": taxonomy.name, "taxonomy_digest": taxonomy.digest()}
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        tags["hydra_overrides"] = " ".join(hydra_cfg.overrides.task) or "(none)"
        if hydra_cfg.mode.name == "MULTIRUN":
            tags["sweep_job"] = str(hydra_cfg.job.num)
        if hydra_cfg.output_subdir:
            hydra_dir = Path(hydra_cfg.runtime.output_dir) / hydra_cfg.output_subdir
            if hydra_dir.is_dir():
                mlflow.log_artifacts(str(hydra_dir), "hydra")
    tags.update(git_tags(project_root))
    mlflow.set_tags(tags)


def git_tags(project_root: str) -> dict[str, str]:
    """`git_commit`, `git_dirty` (tracked files changed) and MLflow's own commit tag; nothing
    when the project is not a git checkout or git is missing."""
    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(project_root), *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": str(dirty).lower(),
            "mlflow.source.git.commit": commit}


def log_dataset(frame, name: str, source: str, context: str) -> None:
    """A data set the run saw, as an MLflow dataset input (digest, schema, rows) under
    `context`: `training`, `validation` or `evaluation`."""
    with warnings.catch_warnings():
        # MLflow registers the same local-file source class for two URI schemes and warns
        # that a path matches both; either is right.
        warnings.filterwarnings("ignore", message="The specified dataset source can be "
                                "interpreted in multiple ways")
        dataset = mlflow.data.from_pandas(frame, source=source, name=name)
    mlflow.log_input(dataset, context=context)


def log_table(frame, artifact_file: str) -> None:
    """A table the UI's artifact view can sort and filter."""
    mlflow.log_table(data=frame, artifact_file=artifact_file)


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
                     ColSpec("string", "previous", required=False),
                     ColSpec("string", "article_id", required=False)])
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
             metrics: dict[str, float], taxonomy, same_rows=None) -> Registered:
    """Register a new version of `name`; move `alias` to it according to `policy`.

    policy: `always`, `never`, or `if_better` (move when there is no holder of the alias yet,
    or when this run's `metric` beats the holder's run's and both follow the same taxonomy).
    Two runs' dev figures compare only when they scored the same dev split: where the holder's
    run logged another one (the labeled data changed), `same_rows(holder run id, holder model
    uri)` gives (this model's metric, the holder's, rows) on the dev rows neither trained on,
    or None where there are too few; the stored figures are compared then, and the reason says so.
    """
    client = MlflowClient()
    version = str(mlflow.register_model(model_uri, name).version)
    if metric in metrics:
        client.set_model_version_tag(name, version, metric, str(metrics[metric]))
    client.set_model_version_tag(name, version, "taxonomy", taxonomy.name)
    client.set_model_version_tag(name, version, "taxonomy_digest", taxonomy.digest())
    current = _alias_holder(client, name, alias)
    if policy == "always":
        promote, reason = True, "policy=always"
    elif policy == "never":
        promote, reason = False, "policy=never"
    elif current is None:
        promote, reason = True, f"no version held @{alias}"
    elif _taxonomy_digest(client, current) not in (None, taxonomy.digest()):
        promote, reason = False, (f"version {current.version} @{alias} follows another "
                                  f"taxonomy; `make promote` to switch")
    elif metric not in metrics:  # e.g. a zero-shot model with no labeled data to score
        promote, reason = False, f"no {metric} to compare with version {current.version}"
    else:
        held_run = client.get_run(current.run_id)
        new, held = metrics[metric], held_run.data.metrics.get(metric, float("-inf"))
        note = ""
        this_run = client.get_run(mlflow.active_run().info.run_id) if mlflow.active_run() else None
        if (same_rows is not None and this_run is not None and dataset_digest(
                held_run, "validation") != dataset_digest(this_run, "validation")):
            paired = same_rows(current.run_id, f"models:/{name}/{current.version}")
            if paired is None:
                note = " (from different dev splits, not rescored on rows both left unseen)"
            else:
                new, held, rows = paired
                note = f", both on the {rows} dev segments neither trained on"
        promote = new > held
        reason = f"{metric} {new:.4f} vs {held:.4f} of version {current.version} @{alias}{note}"
    if promote:
        _move_alias(client, name, alias, version, by="train (registry.promote)", reason=reason)
    return Registered(name, version, promote, reason)


class PromotionRefused(ValueError):
    """The version cannot take the alias (unknown, or trained on another taxonomy)."""


def promote(name: str, alias: str, by: str, reason: str, run_id: str | None = None,
            version: str | None = None) -> Registered:
    """Move `alias` to `version` of `name` (or to the version registered from `run_id`), with
    who, why and when in the version's tags. Refuses a version whose taxonomy differs from the
    current holder's: its labels would mean something else to `make predict`'s readers."""
    client = MlflowClient()
    if run_id:
        found = [v for v in client.search_model_versions(f"run_id = '{run_id}'")
                 if v.name == name]
        if not found:
            raise PromotionRefused(f"run {run_id} registered no version of {name!r}")
        version = str(found[0].version)
    try:
        candidate = client.get_model_version(name, str(version))
    except MlflowException:
        raise PromotionRefused(f"{name!r} has no version {version}") from None
    current = _alias_holder(client, name, alias)
    if current is not None:
        held, new = _taxonomy_digest(client, current), _taxonomy_digest(client, candidate)
        if held and new and held != new:
            raise PromotionRefused(
                f"version {candidate.version} follows taxonomy "
                f"{_taxonomy_name(client, candidate)!r}, the champion (version {current.version}) "
                f"{_taxonomy_name(client, current)!r}; a model of another taxonomy cannot "
                f"replace it")
        if str(current.version) == str(candidate.version):
            return Registered(name, str(version), False, f"version {version} already @{alias}")
    _move_alias(client, name, alias, str(candidate.version), by=by, reason=reason)
    previous = f"version {current.version}" if current is not None else "none"
    return Registered(name, str(candidate.version), True, f"previous @{alias}: {previous}")


def _move_alias(client: MlflowClient, name: str, alias: str, version: str, by: str,
                reason: str) -> None:
    client.set_registered_model_alias(name, alias, version)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for key, value in {"promoted_by": by, "promoted_reason": reason, "promoted_at": stamp}.items():
        client.set_model_version_tag(name, version, key, value)


def _taxonomy_digest(client: MlflowClient, version) -> str | None:
    """A version's taxonomy digest: its tag, else its training run's (older versions)."""
    return version.tags.get("taxonomy_digest") or _run_tag(client, version, "taxonomy_digest")


def _taxonomy_name(client: MlflowClient, version) -> str | None:
    return version.tags.get("taxonomy") or _run_tag(client, version, "taxonomy")


def _run_tag(client: MlflowClient, version, key: str) -> str | None:
    try:
        return client.get_run(version.run_id).data.tags.get(key)
    except MlflowException:
        return None


def _alias_holder(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def resolve_model_uri(uri: str) -> str:
    """`models:/name@alias` -> `models:/name/<version>`, so outputs name the exact version; a
    LookupError where the registry has no such alias or version."""
    if uri.startswith("models:/") and "@" in uri:
        name, alias = uri[len("models:/"):].split("@", 1)
        holder = _alias_holder(MlflowClient(), name, alias)
        if holder is None:
            raise LookupError(f"no model version holds {uri}; run `make train` first "
                              f"(tracking URI: {mlflow.get_tracking_uri()})")
        return f"models:/{name}/{holder.version}"
    name, _, version = uri.removeprefix("models:/").partition("/")
    if uri.startswith("models:/") and version.isdigit():
        try:
            MlflowClient().get_model_version(name, version)
        except MlflowException:
            raise LookupError(f"no version {version} of registered model {name!r} "
                              f"(tracking URI: {mlflow.get_tracking_uri()})") from None
    return uri


def model_output_columns(uri: str) -> list[str]:
    """The pyfunc's output columns, from its logged signature (the model is not loaded)."""
    return mlflow.models.get_model_info(uri).signature.outputs.input_names()


def model_description(uri: str) -> dict:
    """What a logged model says about itself without being loaded: its taxonomy, its topic
    thresholds and its drift reference (`topicstance_model.json` inside the pyfunc)."""
    meta = json.loads(Path(mlflow.artifacts.download_artifacts(
        f"{uri.rstrip('/')}/artifacts/model/{META_FILE}")).read_text())
    return {"taxonomy": meta["taxonomy"], "reference": meta.get("reference"),
            "thresholds": dict(zip(meta["taxonomy"]["topics"], meta["thresholds"]))}


def current_run_id() -> str:
    return mlflow.active_run().info.run_id


def mark_killed(run_id: str, status: str = "KILLED") -> None:
    """Close a run whose process was killed (it would otherwise stay RUNNING forever)."""
    client = MlflowClient()
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status=status)


def load_pyfunc(uri: str):
    return mlflow.pyfunc.load_model(uri)


def load_model_object(uri: str) -> TopicStanceModel:
    """The TopicStanceModel inside a logged pyfunc, for benchmarks that change its settings."""
    return load_pyfunc(uri).unwrap_python_model().model


# ---- sweeps: one parent run, its children ------------------------------------------------------

def start_parent_run(experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """A run that stays open while a sweep's jobs (in this or other processes) attach to it."""
    experiment_id = mlflow.get_experiment_by_name(experiment).experiment_id
    run = MlflowClient().create_run(experiment_id, run_name=run_name,
                                    tags={"job": "sweep", **tags})
    return run.info.run_id


def child_runs(parent_run_id: str) -> list:
    """The parent's child runs in the order the sweep started them."""
    client = MlflowClient()
    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'",
        max_results=10000)
    return sorted(children, key=lambda r: (int(r.data.tags.get("sweep_job", 0)),
                                           r.info.start_time))


def get_run(run_id: str):
    return MlflowClient().get_run(run_id)


def latest_parent_run(sweep_name: str | None, experiment: str) -> str:
    """The newest parent run of the sweep preset `sweep_name` (None: of any sweep)."""
    query = "tags.job = 'sweep'" + (f" and tags.sweep = '{sweep_name}'" if sweep_name else "")
    runs = mlflow.search_runs(filter_string=query,
                              order_by=["attributes.start_time DESC"], max_results=1,
                              output_format="list")
    if not runs:
        which = f"no sweep {sweep_name!r}" if sweep_name else "no sweep yet"
        raise LookupError(f"{which} in experiment {experiment!r} (tracking URI: "
                          f"{mlflow.get_tracking_uri()}); run one first "
                          f"({'make compare' if sweep_name == 'compare_models' else 'make sweep'})")
    return runs[0].info.run_id


def finish_parent_run(run_id: str, status: str, tags: dict[str, str], artifacts: dict) -> None:
    """Log a sweep's summary to its parent and close it. `artifacts` maps file names to text
    (.md, .csv), a pandas frame (a table) or a matplotlib figure."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    for path, item in artifacts.items():
        if isinstance(item, str):
            client.log_text(run_id, item, path)
        elif hasattr(item, "savefig"):
            client.log_figure(run_id, item, path)
        else:
            client.log_table(run_id, data=item, artifact_file=path)
    client.set_terminated(run_id, status=status)


def rename_run(run_id: str, name: str) -> None:
    MlflowClient().set_tag(run_id, "mlflow.runName", name)


def training_runs(parent_run_id: str | None = None) -> list:
    """Finished training runs of the experiment, or only those of one sweep."""
    query = "tags.job = 'train' and attributes.status = 'FINISHED'"
    if parent_run_id:
        query += f" and tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'"
    return mlflow.search_runs(filter_string=query, max_results=50000, output_format="list")


def load_run_dict(run_id: str, artifact: str) -> dict | None:
    """A JSON artifact of a run, None where the run has none."""
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact}")
    except (MlflowException, OSError):
        return None


def dataset_digest(run, context: str) -> str | None:
    """The digest of the first dataset input the run logged under `context`."""
    for item in run.inputs.dataset_inputs if run.inputs else []:
        if any(t.key == "mlflow.data.context" and t.value == context for t in item.tags):
            return item.dataset.digest
    return None


def spark_udf(session, uri: str, result_type):
    """A Spark UDF of the pyfunc at `uri`, run by each executor's Python with the packages it
    already has (no environment is rebuilt); the model is loaded once per executor process."""
    quiet = logging.Filter()  # MLflow advises a conda environment per call; by design, not here
    quiet.filter = lambda record: 'env_manager="local"' not in record.getMessage()
    logger = logging.getLogger("mlflow.pyfunc")
    logger.addFilter(quiet)
    # and it copies the model to a folder it ships to the executors with a progress bar per
    # copy, then logs which backend serves the flavor: noise in a batch job's log
    backends = logging.getLogger("mlflow.models.flavor_backend_registry")
    level = backends.level
    backends.setLevel(logging.WARNING)
    with _environment(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"):
        try:
            return mlflow.pyfunc.spark_udf(session, uri, result_type=result_type,
                                           env_manager="local")
        finally:
            logger.removeFilter(quiet)
            backends.setLevel(level)


@contextmanager
def _environment(**variables):
    """`variables` set in the environment inside the block, then restored."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
