import sys

from topicstance.cli import entry_point


def _print_counts(name: str, counts: dict) -> None:
    print(f"\n{name}: {counts['segments']} segments in {counts['articles']} articles")
    print("  topics:  " + ", ".join(f"{k} {v}" for k, v in counts["topics"].items()))
    print("  stances: " + ", ".join(f"{k} {v}" for k, v in counts["stances"].items()))
    print("  topic x stance:")
    for k, v in counts["topic_x_stance"].items():
        print(f"    {k:<40} {v}")


@entry_point("validate_data")
def main(cfg) -> None:
    from topicstance.pipelines.validate_data import validate_data

    problems, report = validate_data(cfg)
    for name, counts in report.items() if not cfg.quiet else ():
        if name.endswith("provenance"):
            print(f"\n{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        else:
            _print_counts(name, counts)
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        sys.exit(1)
    if cfg.quiet:
        print(f"labeled data valid: {report['all']['segments']} segments in "
              f"{report['all']['articles']} articles (counts per file: make validate-data)")
    else:
        print("\nall labeled files are valid")


if __name__ == "__main__":
    main()
