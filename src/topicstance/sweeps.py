"""One MLflow parent run per multirun of the training job, as a Hydra callback
(`hydra.callbacks` in conf/train.yaml).

The parent is created once, before any job starts; its id travels to the jobs in an environment
variable, so every job's run tags `mlflow.parentRunId` even when a launcher runs jobs in other
processes. When the sweep ends the parent gets the comparison of its children (tables, CSV, an
MLflow table and a chart), the children get names that say what the sweep varied, and the
parent closes FINISHED (FAILED when no child finished); the sweep exits 1 when any job failed.
"""

import atexit
import logging
import os
import sys

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from topicstance import tracking

log = logging.getLogger(__name__)


class MlflowParentRun(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        tracking.configure(config.tracking)
        name = config.get("sweep_name") or "sweep"
        overrides = list(config.hydra.overrides.task)
        tags = {"sweep": name, "sweep_keys": ",".join(swept_keys(config.hydra)),
                "hydra_overrides": " ".join(overrides) or "(none)",
                **tracking.git_tags(config.paths.root)}
        run_id = tracking.start_parent_run(config.tracking.experiment, name, tags)
        os.environ[tracking.SWEEP_PARENT_ENV] = run_id
        atexit.register(tracking.mark_killed, run_id, "FAILED")  # a sweep that stopped early
        log.info("sweep %s: parent run %s", name, run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from topicstance.pipelines.compare import comparison

        run_id = os.environ.pop(tracking.SWEEP_PARENT_ENV)
        result = comparison(config, run_id)
        for child_id, label in result.labels.items():
            tracking.rename_run(child_id, label)
        finished = len(result.table) - len(result.failed)
        tracking.finish_parent_run(
            run_id, "FINISHED" if finished else "FAILED",
            tags={"children": str(len(result.table)), "failed_children": str(len(result.failed))},
            artifacts={"comparison.md": result.markdown,
                       "comparison.csv": result.table.to_csv(index=False),
                       "comparison.json": result.table, "comparison.png": result.chart()})
        print(result.markdown)
        if result.failed:  # after the comparison is logged: exit 1, so a scheduler sees it
            log.warning("%d of %d jobs failed: %s", len(result.failed), len(result.table),
                        ", ".join(result.failed))
            sys.exit(1)


def swept_keys(hydra_cfg: DictConfig) -> list[str]:
    """The keys a sweep varies: sweep overrides on the command line (`model.C=1,4`) and the
    preset's `hydra.sweeper.params`, in that order."""
    parser = OverridesParser.create()
    given = list(hydra_cfg.overrides.task)
    preset = [f"{k}={v}" for k, v in (hydra_cfg.sweeper.get("params") or {}).items()]
    keys = []
    for override in parser.parse_overrides(given + preset):
        if override.is_sweep_override() and override.key_or_group not in keys:
            keys.append(override.key_or_group)
    return keys
