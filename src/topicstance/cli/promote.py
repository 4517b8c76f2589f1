import json

import hydra

from topicstance.cli import CONFIG_PATH, one_line_errors


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="promote")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.promote import promote

    with one_line_errors("topicstance-promote", LookupError, ValueError,
                         tracking.TrackingUnavailable):
        print(json.dumps(promote(cfg)))


if __name__ == "__main__":
    main()
