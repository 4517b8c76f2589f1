import json
import logging

from topicstance.cli import entry_point, one_line_errors, run_job

log = logging.getLogger("topicstance.train")


@entry_point("train")
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
