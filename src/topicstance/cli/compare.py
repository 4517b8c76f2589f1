import hydra

from topicstance.cli import CONFIG_PATH, one_line_errors


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="compare")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.compare import compare

    with one_line_errors("topicstance-compare", DataError, LookupError,
                         tracking.TrackingUnavailable):
        print(compare(cfg).markdown)


if __name__ == "__main__":
    main()
