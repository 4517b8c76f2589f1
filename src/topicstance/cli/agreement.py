"""Agreement between two labeling passes: `topicstance-agreement FIRST.jsonl SECOND.jsonl`."""

import argparse
import json
import sys

from omegaconf import OmegaConf

from topicstance.config import CONF_DIR
from topicstance.io import read_labeled
from topicstance.labels import Taxonomy
from topicstance.quality import agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--labels", default=str(CONF_DIR / "labels" / "default.yaml"),
                        help="taxonomy file (default: conf/labels/default.yaml)")
    args = parser.parse_args()
    taxonomy = Taxonomy.from_config(OmegaConf.load(args.labels))
    first, rejected_first = read_labeled([args.first], taxonomy)
    second, rejected_second = read_labeled([args.second], taxonomy)
    for r in rejected_first + rejected_second:
        print(f"set aside {r}")
    try:
        scores = agreement(list(first), list(second), taxonomy)
    except ValueError as e:  # no segment in common (a file unreadable, or another set of ids)
        sys.exit(f"topicstance-agreement: error: {e}")
    print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
