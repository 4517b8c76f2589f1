import sys
from pathlib import Path

from topicstance.cli import entry_point


@entry_point("make_report")
def main(cfg) -> None:
    from topicstance import batch_report

    output = Path(cfg.output).expanduser().absolute()
    if not (output / "segments").is_dir():
        print(f"topicstance-report: error: {output} holds no prediction output (no segments/); "
              f"run `make predict OUTPUT={output}` first", file=sys.stderr)
        sys.exit(1)
    print(batch_report.write(output, cfg.batch_report))


if __name__ == "__main__":
    main()
