import json
import logging

from topicstance.cli import entry_point, one_line_errors, run_job

log = logging.getLogger("topicstance.cross_validate")


@entry_point("cross_validate")
def main(cfg) -> float | None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.cross_validate import cross_validate

    with one_line_errors("topicstance-cv", DataError, LookupError, OSError,
                         tracking.TrackingUnavailable):
        results = run_job(cross_validate, cfg, log)
    if results is None:
        return None
    print(json.dumps(results))
    return results.get("cv/mean_macro_f1")


if __name__ == "__main__":
    main()
