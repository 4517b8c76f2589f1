import sys
from pathlib import Path

from topicstance.cli import entry_point

EXIT_SOME_REFUSED = 3


@entry_point("import_labels")
def main(cfg) -> None:
    """Exit codes: 0 every row merged, 3 some rows refused (each named on stderr), 1 failed."""
    from topicstance.label_queue import LabelQueueError, import_labels
    from topicstance.labels import Taxonomy

    target = Path(cfg.target)
    existing = {str(target), *cfg.data.labeled, *(cfg.data.get("heldout") or [])}
    try:
        added, refused = import_labels(Path(cfg.file).expanduser().absolute(), target,
                                       sorted(existing), Taxonomy.from_config(cfg.labels),
                                       float(cfg.near_duplicate_threshold))
    except LabelQueueError as e:
        print(f"topicstance-import-labels: error: {e}", file=sys.stderr)
        sys.exit(1)
    for r in refused:
        print(f"refused {r}", file=sys.stderr)
    print(f"merged {added} row(s) into {target}; refused {len(refused)}")
    if refused:
        sys.exit(EXIT_SOME_REFUSED)


if __name__ == "__main__":
    main()
