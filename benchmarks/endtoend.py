"""The whole `make predict` job, end to end, as a user runs it: the real console script on
generated input (the bundled pages repeated in folders, so every copy has its own ids), timed
from the outside with the child's peak RSS from the kernel."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from topicstance import tracking

BIN = Path(sys.executable).parent
# The job runs under this small launcher, which reports its child's peak RSS: a child forked
# straight from the bench would report the bench's own (larger) peak, since Linux carries the
# forking process's high-water mark across exec.
LAUNCHER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)); sys.exit(code)")


def register(model, name: str, example_texts: list[str]) -> str:
    """Log and register `model` in the (scratch) store tracking is configured on."""
    with tracking.run("bench", f"bench-{name}"):
        uri = tracking.log_model(model, example_texts)
        return tracking.register(uri, f"bench-{name}", "bench", "always", "none", {},
                                 model.taxonomy).uri


def make_input(folder: Path, pages: list[Path], segments_per_copy: int, segments: int) -> None:
    """About `segments` segments: copies of `pages` in day folders of 50 copies each."""
    for n in range(max(1, round(segments / segments_per_copy))):
        copy = folder / f"day{n // 50:04d}" / f"copy{n:06d}"
        copy.mkdir(parents=True, exist_ok=True)
        for page in pages:
            shutil.copy(page, copy / page.name)


def run_job(input_dir: Path, output: Path, model_uri: str, experiments: Path,
            furniture_cache: str | None) -> dict:
    """One `topicstance-predict` run: its record, wall seconds and peak RSS. With
    `furniture_cache`, the job finds the furniture detector fitted there, as a daily run finds
    the one the previous day's run stored."""
    log_file = output.parent / f"{output.name}.log"
    rss_file = output.parent / f"{output.name}.maxrss"
    command = [sys.executable, "-c", LAUNCHER, str(rss_file), str(BIN / "topicstance-predict"), f"input='{input_dir}'", f"output='{output}'",
               f"model_uri='{model_uri}'", f"paths.experiments='{experiments}'"]
    if furniture_cache:
        command.append(f"segmenter.furniture_model.cache_dir='{furniture_cache}'")
    env = {**os.environ, "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    with open(log_file, "w") as log:
        child = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                               check=False)
    seconds = time.perf_counter() - started
    stdout = child.stdout
    if child.returncode != 0:
        tail = log_file.read_text().strip().splitlines()[-1:]
        raise RuntimeError(f"topicstance-predict failed ({child.returncode}): {tail}")
    record = json.loads(stdout.strip().splitlines()[-1])
    return {"segments": record["segments"], "articles": record["articles_written"],
            "wall_seconds": round(seconds, 2),
            "segments_per_second": round(record["segments"] / seconds, 1),
            "ms_per_segment": round(1000 * seconds / max(record["segments"], 1), 3),
            "peak_rss_mb": round(int(rss_file.read_text()) / 1024, 1),
            "inference": record.get("inference", {})}


def scale(workdir: Path, pages: list[Path], segments_per_copy: int, sizes, model_uri: str,
          experiments: Path, furniture_cache: str | None, best_of: int = 1) -> list[dict]:
    """One row per size. Each size below the largest runs `best_of` times and keeps its fastest
    run: a small run is mostly the job's start-up (imports, loading the model), whose time
    varies from run to run more than the work does (one run of 1,000 segments moved by 20-29%
    between two benches of the same machine)."""
    rows = []
    for size in sizes:
        work = workdir / f"e2e-{size}"
        shutil.rmtree(work, ignore_errors=True)
        make_input(work / "in", pages, segments_per_copy, int(size))
        runs = []
        for _ in range(best_of if size < max(sizes) else 1):
            shutil.rmtree(work / "out", ignore_errors=True)
            runs.append(run_job(work / "in", work / "out", model_uri, experiments,
                                furniture_cache))
        fastest = min(runs, key=lambda r: r["wall_seconds"])
        rows.append({"target_segments": int(size), **fastest, "runs": len(runs),
                     "wall_seconds_of_runs": [r["wall_seconds"] for r in runs]})
        shutil.rmtree(work, ignore_errors=True)
    return rows
