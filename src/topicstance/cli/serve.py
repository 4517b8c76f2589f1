"""`make serve`: a registered model over REST with `mlflow models serve`, once the registry is
known to hold it (else one line and exit 1, not MLflow's traceback). The tracking store is
MLFLOW_TRACKING_URI's, as for `mlflow models serve` itself."""

import argparse
import os
import sys
from pathlib import Path

import mlflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models:/topicstance@champion",
                        help="model URI (default: the champion)")
    parser.add_argument("--port", type=int, default=5002)
    args = parser.parse_args()

    from topicstance import tracking

    try:
        tracking.check_reachable(mlflow.get_tracking_uri())
        uri = tracking.resolve_model_uri(args.model)
    except (LookupError, tracking.TrackingUnavailable) as e:
        sys.exit(f"topicstance-serve: error: {e}")
    print(f"topicstance-serve: {args.model} is {uri}; serving it on http://127.0.0.1:{args.port}",
          file=sys.stderr, flush=True)
    server = str(Path(sys.executable).parent / "mlflow")
    os.execv(server, [server, "models", "serve", "-m", uri, "--env-manager", "local",
                      "--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
