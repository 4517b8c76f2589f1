import json
import logging
import sys

from topicstance.cli import entry_point

log = logging.getLogger("topicstance.predict")


@entry_point("predict")
def main(cfg) -> None:
    """Exit codes: 0 done, 3 done but some input was quarantined, 75 another run holds the
    output folder, 1 failed (a dependency or argument; one line on stderr says which)."""
    from topicstance import tracking
    from topicstance.outputs import OutputLocked
    from topicstance.pipelines.predict import (
        EXIT_FAILED,
        EXIT_LOCKED,
        EXIT_QUARANTINED,
        PredictError,
        predict,
    )

    try:
        record = predict(cfg)
    except OutputLocked as e:
        print(f"topicstance-predict: {e}", file=sys.stderr)
        sys.exit(EXIT_LOCKED)
    except (PredictError, LookupError, tracking.TrackingUnavailable) as e:
        print(f"topicstance-predict: error: {e}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    print(json.dumps(record))
    if record["quarantined"]:
        sys.exit(EXIT_QUARANTINED)


if __name__ == "__main__":
    main()
