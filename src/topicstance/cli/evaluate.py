import json

import hydra

from topicstance.cli import CONFIG_PATH, one_line_errors


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="evaluate")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.evaluate import evaluate_model

    with one_line_errors("topicstance-evaluate", DataError, LookupError, OSError,
                         tracking.TrackingUnavailable):
        print(json.dumps(evaluate_model(cfg)))


if __name__ == "__main__":
    main()
