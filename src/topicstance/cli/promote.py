import json
import sys

import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="promote")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.promote import promote

    try:
        print(json.dumps(promote(cfg)))
    except (LookupError, ValueError, tracking.TrackingUnavailable) as e:
        print(f"topicstance-promote: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
