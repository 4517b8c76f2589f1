import json

from topicstance.cli import entry_point, one_line_errors


@entry_point("promote")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.pipelines.promote import promote

    with one_line_errors("topicstance-promote", LookupError, ValueError,
                         tracking.TrackingUnavailable):
        print(json.dumps(promote(cfg)))


if __name__ == "__main__":
    main()
