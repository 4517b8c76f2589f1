"""Every config group option composes with every top-level config: a broken YAML fails here."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import TOP_LEVEL_CONFIGS, compose_config, config_defaults
from topicstance.config import CONF_DIR, PROJECT_ROOT
from topicstance.engines import ENGINES, build_engine
from topicstance.labels import Taxonomy
from topicstance.models import FAMILIES
from topicstance.segment import Segmenter

REQUIRED = {"predict": ["input=/nowhere/in", "output=/nowhere/out"],
            "evaluate": ["data_file=/nowhere/labeled.jsonl"]}
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
    elif group == "engine":
        assert node.name in ENGINES
        build_engine(node)
    elif group == "segmenter":
        segmenter = Segmenter.from_config(node)  # compiles every pattern
        assert segmenter.max_words > 0
    elif group == "labels":
        taxonomy = Taxonomy.from_config(node)
        assert len(set(taxonomy.topics)) == len(taxonomy.topics) >= 1
        assert len(set(taxonomy.stances)) == len(taxonomy.stances) >= 2
        assert taxonomy.no_topic not in taxonomy.topics
        assert all(str(t.description).strip() for t in node.topics)
    elif group == "tracking":
        for key in ("uri", "experiment", "registered_model", "alias"):
            assert node[key], key
    elif group == "data":
        assert len(node.labeled) >= 1
        assert 0 < node.dev_fraction < 1
    elif group == "paths":
        for key in ("root", "data", "experiments", "cache"):
            assert Path(node[key]).is_absolute(), key


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
    check_group(cfg, group)
    for other in config_defaults(name):
        check_group(cfg, other)


def test_experiment_presets_compose(tmp_path):
    for preset in options(PRESET_GROUP) if (CONF_DIR / PRESET_GROUP).is_dir() else []:
        text = (CONF_DIR / PRESET_GROUP / f"{preset}.yaml").read_text(encoding="utf-8")
        assert text.lstrip().startswith("# @package _global_"), preset
        cfg = compose_config("train", tmp_path, [f"+{PRESET_GROUP}={preset}"])
        OmegaConf.to_container(cfg, resolve=True)
        check_group(cfg, "model")


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
