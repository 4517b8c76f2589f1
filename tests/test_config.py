"""Every config group option composes with every top-level config: a broken YAML fails here."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

from conftest import TOP_LEVEL_CONFIGS, clean_subprocess_env, compose_config, config_defaults
from topicstance.config import (
    CONF_DIR,
    PROJECT_ROOT,
    mistyped_overrides,
    sweep_samples,
    unknown_keys,
)
from topicstance.engines import ENGINES
from topicstance.labels import Taxonomy
from topicstance.models import FAMILIES
from topicstance.segment import Segmenter

REQUIRED = {"predict": ["input=/nowhere/in", "output=/nowhere/out"],
            "evaluate": ["data_file=/nowhere/labeled.jsonl"],
            "make_report": ["output=/nowhere/out"], "label_queue": ["output=/nowhere/out"],
            "import_labels": ["file=/nowhere/queue.jsonl"]}
GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith("."))
PRESET_GROUP = "experiment"  # `# @package _global_` presets, picked with +experiment=<name>


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


CASES = [(name, group, option) for name in TOP_LEVEL_CONFIGS
         for group in config_defaults(name) for option in options(group)]


def check_group(cfg, group: str) -> None:
    """What each group's node must hold for the code that reads it."""
    node = cfg[group]
    if group == "model":
        assert node.family in FAMILIES
    elif group == "engine":  # built for real (with a model) in test_predict_batch/test_spark_engine
        module, name = ENGINES[node.name].split(":")
        engine_class = getattr(importlib.import_module(module), name)
        assert callable(engine_class.from_config)
    elif group == "segmenter":
        segmenter = Segmenter.from_config(node)  # compiles every pattern
        assert segmenter.max_words > 0
    elif group == "labels":
        taxonomy = Taxonomy.from_config(node)
        assert len(set(taxonomy.topics)) == len(taxonomy.topics) >= 1
        assert len(set(taxonomy.stances)) == len(taxonomy.stances) >= 2
        assert taxonomy.no_topic not in taxonomy.topics
        assert taxonomy.no_side in taxonomy.stances  # the gate's and the side flips' no-side
        assert all(str(t.description).strip() for t in node.topics)
    elif group == "tracking":
        for key in ("uri", "experiment", "registered_model", "alias"):
            assert node[key], key
    elif group == "data":
        assert len(node.labeled) >= 1 or not node.heldout  # none: a zero-shot start only
        assert 0 < node.dev_fraction < 1
    elif group == "paths":
        for key in ("root", "data", "experiments", "cache"):
            assert Path(node[key]).is_absolute(), key
    elif group == "targets":  # each names a metric the comparison has, and one goal
        from topicstance.pipelines.compare import MAIN, TEST, per_class_columns

        compared = {key for key, _ in MAIN + per_class_columns(compose_config("compare", "/x"))}
        for target in node.runs:  # (per-class ones: of the default taxonomy)
            assert f"{TEST}/{target.metric}" in compared, target.metric
            assert ("at_least" in target) != ("at_most" in target), target.metric
        assert {t.metric for t in node.segmenter} == {"furniture_kept_rate", "body_lost_rate"}


def test_every_group_is_used():
    used = {g for name in TOP_LEVEL_CONFIGS for g in config_defaults(name)}
    assert set(GROUPS) - {PRESET_GROUP, "hydra"} <= used, "a config group no top-level config uses"
    for group in used:
        assert options(group), f"conf/{group}/ has no options"


def test_every_job_writes_hydra_outputs_under_paths_experiments():
    """One conf/hydra/default.yaml holds the run and sweep dirs; every top-level config uses it."""
    for name in TOP_LEVEL_CONFIGS:
        entries = [OmegaConf.to_container(e) for e in OmegaConf.load(CONF_DIR / f"{name}.yaml").defaults
                   if not isinstance(e, str)]
        assert {"hydra": "default"} in entries, name
    dirs = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "hydra" / "default.yaml"))
    for kind in ("run", "sweep"):
        assert dirs[kind]["dir"].startswith("${paths.experiments}/hydra/"), kind


def test_top_level_configs_have_their_defaults():
    for name in TOP_LEVEL_CONFIGS:
        assert {"paths"} <= set(config_defaults(name)), name
    assert {"labels", "data", "model", "tracking"} <= set(config_defaults("train"))
    assert {"segmenter", "tracking", "engine"} <= set(config_defaults("predict"))
    assert {"labels", "tracking"} <= set(config_defaults("evaluate"))
    assert {"labels", "data"} <= set(config_defaults("validate_data"))


@pytest.mark.parametrize("name,group,option", CASES, ids=[f"{n}-{g}={o}" for n, g, o in CASES])
def test_group_option_composes(tmp_path, name, group, option):
    cfg = compose_config(name, tmp_path, [f"{group}={option}", *REQUIRED.get(name, [])])
    resolved = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    assert resolved["paths"]["experiments"] == str(tmp_path)
    for checked in {group, *config_defaults(name)}:
        if checked in cfg:  # a `@package _global_` group (bench's budget) has no node of its own
            check_group(cfg, checked)


def test_experiment_presets_compose(tmp_path):
    for preset in options(PRESET_GROUP) if (CONF_DIR / PRESET_GROUP).is_dir() else []:
        text = (CONF_DIR / PRESET_GROUP / f"{preset}.yaml").read_text(encoding="utf-8")
        assert text.lstrip().startswith("# @package _global_"), preset
        cfg = compose_config("train", tmp_path, [f"+{PRESET_GROUP}={preset}"])
        OmegaConf.to_container(cfg, resolve=True)
        check_group(cfg, "model")


def sweep_presets() -> dict[str, dict[str, list[str]]]:
    """{preset: {swept key: its values}} for the presets that run as a multirun."""
    parser = OverridesParser.create()
    found = {}
    for preset in options(PRESET_GROUP):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="train", overrides=[f"+{PRESET_GROUP}={preset}"],
                          return_hydra_config=True)
        if cfg.hydra.mode != RunMode.MULTIRUN:
            continue
        params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
        found[preset] = {o.key_or_group: list(o.sweep_string_iterator())
                         for o in parser.parse_overrides(params)}
    return found


def test_sweep_presets_exist_and_every_swept_value_composes(tmp_path):
    """Each job a sweep preset would launch composes, with its parent run name set."""
    presets = sweep_presets()
    assert {"compare_models", "tfidf_grid"} <= set(presets)
    assert presets["compare_models"]["model"] == ["tfidf_segment_only", "tfidf_linear",
                                                  "tfidf_gated", "tfidf_article",
                                                  "minilm_linear",
                                                  "minilm_finetune", "tfidf_minilm"]
    for preset, swept in presets.items():
        for key, values in swept.items():
            assert len(values) >= 2, (preset, key)
            for value in values:
                cfg = compose_config("train", tmp_path, [f"+{PRESET_GROUP}={preset}",
                                                         f"{key}={value}"])
                OmegaConf.to_container(cfg, resolve=True)
                check_group(cfg, "model")
                assert cfg.sweep_name == preset
                assert cfg.registry.promote == "never"  # a sweep never moves the champion


def test_compare_models_trains_without_the_seeds_and_scores_the_segmenter(tmp_path):
    cfg = compose_config("train", tmp_path, [f"+{PRESET_GROUP}=compare_models"])
    assert not any(p.endswith("seeds.jsonl") for p in cfg.data.labeled)
    assert any(p.endswith("seeds.jsonl") for p in cfg.data.heldout)
    check_group(cfg, "segmenter")
    check_group(cfg, "targets")


def test_training_jobs_get_the_sweep_parent_callback():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", return_hydra_config=True)
    targets = [c._target_ for c in cfg.hydra.callbacks.values()]
    assert sorted(targets) == ["topicstance.config.OverrideTypeCheck",
                               "topicstance.sweeps.MlflowParentRun"]


def test_overrides_of_the_wrong_type_are_named():
    """The shipped YAML is the schema for command-line values (every job: conf/hydra/)."""
    def problems(name, overrides):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return mistyped_overrides(name, overrides)

    assert problems("train", ["model.C=abc", "model.article_stage.folds=2.5", "seed=true",
                              "model.gate.C=3", "registry.promote=never"]) == [
        "model.C=abc: model.C takes a number (the shipped config has 4.0)",
        ("model.article_stage.folds=2.5: model.article_stage.folds takes a whole number "
        "(the shipped config has 4)"),
        "seed=true: seed takes a whole number (the shipped config has 13)"]
    # group choices and presets are read like the shipped config; what they set is the reference
    assert problems("train", ["model=minilm_finetune", "model.max_epochs=1",
                              "model.learning_rate=1e-5", "run_name=2024",
                              "seed=${registry.min_shared_dev_segments}"]) == []
    assert problems("train", ["+experiment=fast_baseline", "model.C=2"]) == []
    assert problems("predict", [*REQUIRED["predict"], "min_free_mb=1e12"]) == []  # whole
    assert problems("bench", ["finetune_e2e_segments=null"]) == []  # null: skip that row
    assert problems("train", ["model=minilm_finetune", "model.max_epochs=two"]) == [
        "model.max_epochs=two: model.max_epochs takes a whole number (the shipped config has 3)"]
    assert problems("predict", [*REQUIRED["predict"], "limits.min_english_share=x"]) == [
        ("limits.min_english_share=x: limits.min_english_share takes a number "
        "(the shipped config has 0.05)")]


def test_a_sweep_is_checked_value_by_value_without_the_whole_grid():
    assert sweep_samples(["model=a,b", "model.C=1,2,3", "seed=5"]) == [
        ["model=a", "model.C=1", "seed=5"], ["model=b", "model.C=1", "seed=5"],
        ["model=a", "model.C=2", "seed=5"], ["model=a", "model.C=3", "seed=5"]]
    # a preset's range first, then the command line's value for the same key: that one counts
    assert sweep_samples(["model.C=1,4", "seed=5", "model.C=abc"]) == [["model.C=abc", "seed=5"]]


def test_misspelt_keys_are_named_with_the_nearest_key():
    def problems(name, overrides):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return unknown_keys(name, overrides)

    assert problems("train", ["modle.C=4", "model.article_stage.fold=2", "sed=3"]) == [
        "modle.C=4: the train config has no key modle.C; did you mean model.C?",
        ("model.article_stage.fold=2: the train config has no key model.article_stage.fold; "
         "did you mean model.article_stage.folds?"),
        "sed=3: the train config has no key sed; did you mean seed?"]
    # keys of the group option chosen (a sweep: its first), added or deleted keys, Hydra's own,
    # a list's items, and required values (`???`) are all known
    assert problems("train", ["model=minilm_finetune", "model.max_epochs=1", "+model.extra=1",
                              "~model.gate", "hydra.job.chdir=false", "data.labeled.0=x.jsonl"]) == []
    assert problems("train", ["model.stance_offsets={reference: neutral}"]) == []
    assert problems("train", ["model=minilm_finetune,tfidf_linear", "model.max_epochs=1,2"]) == []
    assert problems("train", ["+experiment=tfidf_grid", "model.C=2"]) == []
    assert problems("predict", REQUIRED["predict"]) == []
    assert problems("train", ["model=minilm_finetune", "model.C=4"])[0].startswith(
        "model.C=4: the train config has no key model.C")  # that family has no C
    assert problems("train", ["model=tfidf", "modle.C=4"]) == []  # Hydra lists the options


def test_a_misspelt_key_stops_the_job_in_one_line(tmp_path):
    """A real `topicstance-predict`: one line naming the key it meant, not Hydra's four lines
    suggesting `+inptu=...` (which would add a key nothing reads)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "topicstance-predict"), f"inptu={tmp_path}/in",
         f"output={tmp_path}/out", f"paths.experiments='{tmp_path}'"],
        env=clean_subprocess_env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        (f"topicstance-predict: error: inptu={tmp_path}/in: the predict config has no key "
         "inptu; did you mean input?")]


@pytest.mark.parametrize("args", [["model.C=abc"], ["--multirun", "model.C=1,abc"],
                                  ["+experiment=tfidf_grid", "model.C=abc"]],
                         ids=["run", "multirun", "sweep-preset"])
def test_a_mistyped_value_stops_the_job_in_one_line_before_any_work(tmp_path, args):
    """A real `topicstance-train`: the type error comes first (the data file does not exist);
    in a sweep, before its first job (the good value comes first) and its parent run."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "topicstance-train"), *args,
         f"paths.experiments='{tmp_path}'", f"tracking.uri='sqlite:///{tmp_path}/mlflow.db'",
         f"data.labeled=['{tmp_path}/none.jsonl']"],
        env=clean_subprocess_env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "topicstance-train: error: model.C=abc: model.C takes a number (the shipped config has "
        "4.0)")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()  # no run, no parent run was started


def test_one_seed_drives_the_split_and_the_fine_tune(tmp_path):
    for model in ("minilm_finetune", "tfidf_minilm"):
        cfg = compose_config("train", tmp_path, [f"model={model}", "seed=7"])
        node = cfg.model if model == "minilm_finetune" else cfg.model.members.minilm_finetune
        assert node.seed == 7, model


def test_train_settings(tmp_path):
    cfg = compose_config("train", tmp_path)
    assert cfg.registry.promote in {"always", "if_better", "never"}
    assert cfg.registry.metric.startswith("dev/")
    assert isinstance(cfg.seed, int)


def test_paths_follow_root_and_tracking_follows_env(tmp_path, monkeypatch):
    """No override: paths from the checkout (or TOPICSTANCE_ROOT), tracking from the env."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TOPICSTANCE_ROOT", raising=False)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train")
    assert Path(cfg.paths.data) == PROJECT_ROOT / "data"
    assert Path(cfg.paths.cache) == PROJECT_ROOT / "experiments" / "cache"
    assert cfg.tracking.uri == f"sqlite:///{PROJECT_ROOT}/experiments/mlflow.db"
    assert next(Path(p) for p in cfg.data.labeled) == PROJECT_ROOT / "data/labeled/seeds.jsonl"

    monkeypatch.setenv("TOPICSTANCE_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert Path(cfg.paths.data) == tmp_path / "data"  # resolved when read
    assert cfg.tracking.uri == "http://127.0.0.1:5999"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        server = compose(config_name="predict", overrides=["tracking=server"])
    assert server.tracking.uri == "http://127.0.0.1:5999"
