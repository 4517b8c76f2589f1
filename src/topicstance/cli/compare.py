import sys

import hydra

from topicstance.cli import CONFIG_PATH


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="compare")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.compare import compare

    try:
        print(compare(cfg).markdown)
    except (LookupError, tracking.TrackingUnavailable) as e:
        print(f"topicstance-compare: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
