"""Does the prediction job stream? Peak memory and speed of `topicstance-predict` by input size.

Generates inputs of about N segments by repeating the bundled pages (data/raw) in day folders
with varied ids, runs the real console script on each into a fresh output folder, and reports
wall time, segments per second and the job's peak RSS. Memory should stay flat from 10k to 100k
segments (the job holds one batch, not the input) and speed should stay constant.

    .venv/bin/python benchmarks/scale.py --sizes 1000,10000,100000 [--model-uri models:/...]

Results go to stdout as one JSON line per size and a Markdown table; scratch under --workdir.
"""

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAW = ROOT / "data" / "raw"
SEGMENTS_PER_COPY = 195  # the five bundled pages give 195 segments


def make_input(folder: Path, segments: int) -> None:
    pages = sorted(RAW.glob("*.txt"))
    for n in range(max(1, round(segments / SEGMENTS_PER_COPY))):
        day = folder / f"day{n // 50:04d}" / f"batch{n:06d}"
        day.mkdir(parents=True, exist_ok=True)
        for page in pages:
            shutil.copy(page, day / page.name)


def run_once(input_dir: Path, output: Path, extra: list[str]) -> dict:
    """Run the job in a child and read the child's peak RSS from the kernel."""
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "topicstance-predict"), f"input='{input_dir}'",
                             f"output='{output}'", *extra], capture_output=True, text=True,
                            check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"topicstance-predict failed ({result.returncode}): "
                 f"{result.stderr.strip().splitlines()[-1]}")
    record = json.loads(result.stdout.strip().splitlines()[-1])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"segments": record["segments"], "wall_seconds": round(seconds, 1),
            "segments_per_second": round(record["segments"] / seconds, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1), "inference": record.get("inference", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--model-uri", default=None, help="default: the champion")
    parser.add_argument("--workdir", default=str(ROOT / "experiments" / "bench-scale"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the job")
    args = parser.parse_args()
    extra = list(args.overrides) + ([f"model_uri='{args.model_uri}'"] if args.model_uri else [])
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        work = Path(args.workdir) / str(size)
        shutil.rmtree(work, ignore_errors=True)
        make_input(work / "in", size)
        # Each size in its own child interpreter, so ru_maxrss is that size's job alone.
        child = subprocess.run([sys.executable, __file__, "--_one", str(work), *extra],
                               capture_output=True, text=True, check=False)
        if child.returncode != 0:
            sys.exit(child.stderr.strip() or child.stdout.strip())
        row = {"target_segments": size, **json.loads(child.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nCPU: {platform.processor() or platform.machine()}, "
          f"{rows[0]['inference'] if rows else ''}\n")
    print("| segments | wall s | segments/s | peak RSS MB |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['segments']:,} | {r['wall_seconds']} | {r['segments_per_second']} | "
              f"{r['peak_rss_mb']} |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--_one":
        work = Path(sys.argv[2])
        print(json.dumps(run_once(work / "in", work / "out", sys.argv[3:])))
    else:
        main()
