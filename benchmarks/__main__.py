"""`python -m benchmarks [overrides]`: run the bench, write its JSON, regenerate BENCHMARKS.md."""

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from benchmarks import report, suite
from topicstance.config import CONF_DIR, mistyped_overrides, unknown_keys

log = logging.getLogger(__name__)


def keep_earlier_run(path: Path) -> Path | None:
    """A run of the same day and host already at `path` is moved aside to
    `<date>-<host>[-suffix]-<HHMMSS>.json` (its file's time), so that a rerun never destroys a
    measured result; the new run keeps the plain name, which the report takes as the newest."""
    if not path.exists():
        return None
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%H%M%S")
    earlier = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    path.rename(earlier)
    log.info("kept the earlier run of the day as %s", earlier)
    return earlier


def main(overrides: list[str]) -> Path:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        problems = unknown_keys("bench", overrides) or mistyped_overrides("bench", overrides)
        if problems:
            raise ValueError("; ".join(problems))
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
        "-gpu" if result["machine"]["gpu"] else "") + (
        f"-{result['machine']['isa_limit']}" if result["machine"].get("isa_limit") else "")
    path = Path(cfg.results_dir) / f"{result['date']}-{result['host']}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    keep_earlier_run(path)
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
