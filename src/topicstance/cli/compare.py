
from topicstance.cli import entry_point, one_line_errors


@entry_point("compare")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.compare import compare

    with one_line_errors("topicstance-compare", DataError, LookupError,
                         tracking.TrackingUnavailable):
        print(compare(cfg).markdown)


if __name__ == "__main__":
    main()
