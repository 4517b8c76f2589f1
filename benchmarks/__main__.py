"""`python -m benchmarks [overrides]`: run the bench, write its JSON, regenerate BENCHMARKS.md."""

import json
import logging
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from benchmarks import report, suite
from topicstance.config import CONF_DIR


def main(overrides: list[str]) -> Path:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("bench", overrides)
        if cfg.default_model is None:
            cfg.default_model = default_model()
        if cfg.default_model not in cfg.families:
            cfg.families = [cfg.default_model, *cfg.families]
        # Each family's config exactly as `make train ARGS=model=<name>` composes it.
        model_cfgs = {name: compose("train", [f"model={name}"]).model for name in cfg.families}
    result = suite.run(cfg, model_cfgs)
    result["overrides"] = list(overrides)
    suffix = ("" if cfg.profile == "full" else f"-{cfg.profile}") + (
        "-gpu" if result["machine"]["gpu"] else "")
    path = Path(cfg.results_dir) / f"{result['date']}-{result['host']}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    report.write(path, Path(cfg.report), Path(cfg.results_dir))
    print(f"wrote {path} and {cfg.report}")
    return path


def default_model() -> str:
    """The model `make train` trains: the `model` entry of conf/train.yaml's defaults."""
    for entry in OmegaConf.load(CONF_DIR / "train.yaml").defaults:
        if isinstance(entry, DictConfig) and "model" in entry:
            return str(entry.model)
    raise ValueError("conf/train.yaml names no default model")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    try:
        main(sys.argv[1:])
    except (ValueError, LookupError, RuntimeError, FileNotFoundError) as e:
        sys.exit(f"bench failed: {e}")
