import json
import sys
from pathlib import Path

from topicstance.cli import entry_point


@entry_point("label_queue")
def main(cfg) -> None:
    from topicstance.label_queue import LabelQueueError, build_queue

    labeled = [*cfg.data.labeled, *(cfg.data.get("heldout") or [])]
    if cfg.n < 1:  # its type is checked with every override (topicstance.config)
        print(f"topicstance-label-queue: error: n (N=) must be a whole number of segments, 1 or "
              f"more; got {cfg.n!r}", file=sys.stderr)
        sys.exit(1)
    try:
        jsonl, table, counts = build_queue(Path(cfg.output).expanduser().absolute(), cfg.n,
                                           cfg, labeled)
    except LabelQueueError as e:
        print(f"topicstance-label-queue: error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{counts['chosen']} segments to label (of {counts['segments']}; "
          f"{counts['already_labeled']} already labeled were left out):\n  {jsonl}\n  {table}")
    print(json.dumps({**counts, "jsonl": str(jsonl), "csv": str(table)}))


if __name__ == "__main__":
    main()
