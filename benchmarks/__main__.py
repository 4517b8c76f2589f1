"""`python -m benchmarks [overrides]`: run the bench, write its JSON, regenerate BENCHMARKS.md."""

import json
import logging
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from benchmarks import report, suite
from topicstance.config import CONF_DIR


def main(overrides: list[str]) -> Path:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("bench", overrides)
        # Each family's config exactly as `make train ARGS=model=<name>` composes it.
        model_cfgs = {name: compose("train", [f"model={name}"]).model for name in cfg.families}
    result = suite.run(cfg, model_cfgs)
    suffix = "" if cfg.profile == "full" else f"-{cfg.profile}"
    path = Path(cfg.results_dir) / f"{result['date']}-{result['host']}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    Path(cfg.report).write_text(report.render(result, path))
    print(f"wrote {path} and {cfg.report}")
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    try:
        main(sys.argv[1:])
    except (ValueError, LookupError, RuntimeError, FileNotFoundError) as e:
        sys.exit(f"bench failed: {e}")
