import json

from topicstance.cli import entry_point, one_line_errors


@entry_point("evaluate")
def main(cfg) -> None:
    from topicstance import tracking
    from topicstance.io import DataError
    from topicstance.pipelines.evaluate import evaluate_model

    with one_line_errors("topicstance-evaluate", DataError, LookupError, OSError,
                         tracking.TrackingUnavailable):
        print(json.dumps(evaluate_model(cfg)))


if __name__ == "__main__":
    main()
