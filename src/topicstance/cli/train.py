import json
import logging

import hydra

from topicstance.cli import CONFIG_PATH

log = logging.getLogger("topicstance.train")


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def main(cfg) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from topicstance.pipelines.train import train

    hydra_cfg = HydraConfig.get()
    if cfg.variant is None:  # comparison rows are named by the model config chosen
        cfg.variant = hydra_cfg.runtime.choices.get("model")
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # Hydra's basic launcher stops a sweep at the first job that raises; a failed job is
        # already recorded FAILED in MLflow, so the sweep goes on with the next one.
        try:
            metrics = train(cfg)
        except Exception:
            log.exception("job %s failed (its MLflow run is FAILED); the sweep goes on",
                          hydra_cfg.job.num)
            return None
    else:
        metrics = train(cfg)
    print(json.dumps(metrics))
    return metrics.get(cfg.registry.metric)  # what a Hydra sweeper optimises (none: zero-shot)


if __name__ == "__main__":
    main()
