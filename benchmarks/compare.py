"""Two `make bench` results side by side: does a second run reproduce the first within noise?

usage: python -m benchmarks.compare A.json B.json

Prints every speed and memory figure the two runs share (B / A per row) and the largest and
median deviation, as a markdown table to paste. Metrics beside the speeds are deterministic for
the scikit-learn families and are not repeated here.
"""

import json
import statistics
import sys
from pathlib import Path


def figures(result: dict) -> dict[str, float]:
    """Name -> value for every speed and memory figure of one result file."""
    out = {"naive baseline, seg/s": result["naive"]["segments_per_second"]}
    for row in result["inference"]:
        out[f"{row['model']} {row['precision']} {row['backend']}, seg/s"] = row["segments_per_second"]
    for kind, row in result["segmenting"].items():
        out[f"segmenting {kind}, articles/s"] = row["articles_per_second"]
    for row in result["end_to_end"]["scale"]:
        size = row["target_segments"]
        out[f"end to end {size:,} segments, seg/s"] = row["segments_per_second"]
        out[f"end to end {size:,} segments, peak RSS MB"] = row["peak_rss_mb"]
    for precision, value in result["roofline"]["peak_gflops"].items():
        out[f"matmul peak {precision}, GFLOP/s"] = value
    for row in result["training"]:
        out[f"train {row['model']}, s"] = row["train_seconds"]
    return out


def compare(a: dict, b: dict) -> tuple[list[str], list[float]]:
    fa, fb = figures(a), figures(b)
    lines = ["| figure | A | B | B / A |", "| --- | ---: | ---: | ---: |"]
    ratios = []
    for name in fa:
        if name in fb and fa[name]:
            ratio = fb[name] / fa[name]
            ratios.append(ratio)
            lines.append(f"| {name} | {fa[name]:,.1f} | {fb[name]:,.1f} | {ratio:.2f} |")
    return lines, ratios


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python -m benchmarks.compare A.json B.json")
    paths = [Path(p) for p in sys.argv[1:]]
    for path in paths:
        if not path.is_file():
            sys.exit(f"benchmarks.compare: error: {path}: no such result file")
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in paths)
    lines, ratios = compare(a, b)
    print(f"A: {paths[0]} ({a['date']}, {a['machine']['cpu']}, load {a['machine']['load_average_at_start'][0]})")
    print(f"B: {paths[1]} ({b['date']}, {b['machine']['cpu']}, load {b['machine']['load_average_at_start'][0]})\n")
    print("\n".join(lines))
    deviations = [abs(r - 1) for r in ratios]
    print(f"\n{len(ratios)} figures; median deviation {statistics.median(deviations):.1%}, "
          f"largest {max(deviations):.1%}")


if __name__ == "__main__":
    main()
