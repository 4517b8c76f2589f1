import json
import logging

import hydra

from topicstance.cli import CONFIG_PATH, one_line_errors, run_job

log = logging.getLogger("topicstance.train")


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def main(cfg) -> float | None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.train import train

    with one_line_errors("topicstance-train", DataError, LookupError, OSError,
                         tracking.TrackingUnavailable):
        metrics = run_job(train, cfg, log)
    if metrics is None:
        return None
    print(json.dumps(metrics))
    return metrics.get(cfg.registry.metric)  # what a Hydra sweeper optimises (none: zero-shot)


if __name__ == "__main__":
    main()
