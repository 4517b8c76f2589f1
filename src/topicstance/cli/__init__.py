"""Thin `@hydra.main` entry points: compose the config, call one pipeline function."""

import functools
import os
import sys
from contextlib import contextmanager
from pathlib import Path

# Weights and tokenizers come from local folders only; never ask a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import hydra
from hydra.errors import HydraException

from topicstance.config import CONF_DIR, unknown_keys

CONFIG_PATH = str(CONF_DIR)


def entry_point(config_name: str):
    """`@hydra.main` over conf/<config_name>.yaml, with a misspelt key on the command line
    (`modle.C=4`) stopped first: one line naming the nearest key, exit status 2."""
    def decorate(task):
        hydra_main = hydra.main(version_base="1.3", config_path=CONFIG_PATH,
                                config_name=config_name)(task)

        @functools.wraps(task)
        def main():
            _stop_if_unknown_keys(config_name, sys.argv[1:])
            return hydra_main()
        return main
    return decorate


def _stop_if_unknown_keys(config_name: str, args: list[str]) -> None:
    overrides = [a for a in args if a not in ("-m", "--multirun")]
    if any(a.startswith("-") for a in overrides):  # --cfg, -cn, --help...: Hydra's own business
        return
    try:
        with hydra.initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
            problems = unknown_keys(config_name, overrides)
    except HydraException:  # an override Hydra cannot parse: its own error says where
        return
    if problems:
        print(f"{Path(sys.argv[0]).name}: error: {'; '.join(problems)}", file=sys.stderr)
        sys.exit(2)


def run_job(job, cfg, log):
    """`job(cfg)`, with the variant named by the `model=` config chosen when not set. In a
    multirun, Hydra's basic launcher stops a sweep at the first job that raises; a failed job is
    already recorded FAILED in MLflow, so it is logged and the sweep goes on (returns None)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if cfg.variant is None:  # comparison rows are named by the model config chosen
        cfg.variant = hydra_cfg.runtime.choices.get("model")
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return job(cfg)
    try:
        return job(cfg)
    except Exception:
        log.exception("job %s failed (its MLflow run is FAILED); the sweep goes on",
                      hydra_cfg.job.num)
        return None


@contextmanager
def one_line_errors(prog: str, *errors: type[Exception]):
    """An expected failure (a server down, no model, no disk, a bad input file) ends the job
    with one line on stderr, `<prog>: error: <why>`, and exit status 1, not a traceback."""
    try:
        yield
    except errors as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
