"""The scheduled prediction job: new and changed pages in, committed Parquet parts out.

Run it over the same growing folder every day: files whose bytes did not change since a
committed part recorded them are skipped without being read, unchanged records of a changed
JSONL file are skipped one by one, and only the rest is segmented, classified and written, in
bounded batches. What the output folder holds is described in `topicstance.outputs`.
"""

import errno
import hashlib
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig
from tqdm.auto import tqdm

from topicstance import batch_report, drift, rollups, tracking
from topicstance.engines import build_engine
from topicstance.inputs import InputFile, Limits, Unit, list_files, read_units
from topicstance.outputs import Output, State, articles_per_model, segment_schema
from topicstance.segment import Segmenter

log = logging.getLogger(__name__)

EXIT_FAILED, EXIT_QUARANTINED, EXIT_LOCKED = 1, 3, 75  # 0: done, nothing quarantined


class PredictError(RuntimeError):
    """A failing dependency or unusable argument: one line for the user, a non-zero exit."""


@dataclass
class Counts:
    files_seen: int = 0
    files_unchanged: int = 0
    articles_new: int = 0
    articles_changed: int = 0
    articles_unchanged: int = 0
    articles_written: int = 0
    segments: int = 0
    quarantined: int = 0
    parts: int = 0
    rows_superseded: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    stances: Counter = field(default_factory=Counter)


def predict(cfg: DictConfig) -> dict:
    """Process what is new under `cfg.input` into `cfg.output`; returns the run record."""
    started = time.time()
    input_path = Path(cfg.input).expanduser().absolute()
    output = Output(Path(cfg.output).expanduser().absolute())
    if not (input_path.exists() or input_path.is_symlink()):
        raise PredictError(f"input not found: {input_path}; pass input=<file or folder>")
    _check_writable(output.root, float(cfg.min_free_mb))
    tracking.configure(cfg.tracking)
    model_uri = tracking.resolve_model_uri(cfg.model_uri)
    created_output = not output.root.exists()
    try:
        with output.lock():
            return _locked_run(cfg, input_path, output, model_uri, started)
    except BaseException:
        if created_output and not any(output.root.rglob("*.parquet")):
            shutil.rmtree(output.root, ignore_errors=True)  # leave no trace of a run that did nothing
        raise


def _locked_run(cfg, input_path: Path, output: Output, model_uri: str, started: float) -> dict:
    recovered = output.recover()
    for record in recovered["interrupted_runs"]:
        log.warning("run %s was interrupted; its committed parts are kept, the rest is redone",
                    record["run_id"])
        if record.get("mlflow_run_id"):
            tracking.mark_killed(record["mlflow_run_id"])
    if recovered["temporary_files_removed"]:
        log.info("removed %d leftover temporary files", recovered["temporary_files_removed"])
    state = output.state()
    files = list_files(input_path, exclude=output.root)
    if not files:  # a scrape that delivered nothing is a failure to look into, not a quiet day
        raise PredictError(f"input folder {input_path} holds no files; nothing to label")
    counts = Counts(files_seen=len(files))
    todo = []
    for file in files:
        if not cfg.reprocess and state.files.get(str(file.path)) == file.fingerprint:
            counts.files_unchanged += 1
        else:
            todo.append(file)
    if todo and counts.files_unchanged:
        log.info("%d files under %s: %d unchanged since the last run (skipped), %d to process",
                 counts.files_seen, input_path, counts.files_unchanged, len(todo))
    units_per_file = Counter(u.get("file") for u in state.units.values() if u.get("article_id"))
    counts.articles_unchanged = sum(units_per_file[str(f.path)] for f in files if f not in todo)

    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
    run_date = str(cfg.run_date or datetime.now().date().isoformat())
    record = {"run_id": run_id, "status": "running", "started": _iso(started),
              "input": str(input_path), "output": str(output.root), "run_date": run_date,
              "model_uri": model_uri, "reprocess": bool(cfg.reprocess)}
    output_columns = tracking.model_output_columns(model_uri)
    schema = segment_schema(output_columns)
    described = tracking.model_description(model_uri)  # taxonomy, thresholds, drift reference
    record.update(taxonomy=described["taxonomy"], thresholds=described["thresholds"])
    with _engine(cfg, model_uri, output_columns, needed=bool(todo)) as engine:
        if engine is not None:
            record["inference"] = engine.describe()
        return _tracked_run(cfg, input_path, output, state, todo, engine, schema, counts, record,
                            started, described)


@contextmanager
def _engine(cfg, model_uri: str, output_columns: list[str], needed: bool):
    """The configured engine, closed after the run; None when there is no work (loading a
    model or starting Spark takes seconds)."""
    if not needed:
        yield None
        return
    engine = build_engine(cfg.engine, Segmenter.from_config(cfg.segmenter), model_uri,
                          output_columns)
    try:
        yield engine
    finally:
        engine.close()


def _tracked_run(cfg, input_path: Path, output: Output, state: State, todo: list[InputFile],
                 engine, schema, counts: Counts, record: dict, started: float,
                 described: dict) -> dict:
    model_uri, run_id, run_date = record["model_uri"], record["run_id"], record["run_date"]
    with tracking.run("predict", cfg.get("run_name"), {"model_uri": model_uri}):
        tracking.log_params({"input": str(input_path), "output": str(output.root),
                             "model_uri": model_uri, "reprocess": bool(cfg.reprocess),
                             "run_date": run_date, "run_id": run_id})
        record["mlflow_run_id"] = tracking.current_run_id()
        output.write_run_record(record)
        if not todo:
            log.info("nothing new under %s: %d files unchanged since the last run; no model work, "
                     "no new rows", input_path, counts.files_unchanged)
        else:
            batcher = _Batcher(cfg, output, state, schema, engine, model_uri, run_id, run_date,
                               counts, described["taxonomy"])
            try:
                batcher.run(todo)
            except OSError as e:
                raise PredictError(_os_error_message(e, output.root)) from e
            record["drift"] = drift.check_run(output.root, run_id, described["taxonomy"],
                                              described.get("reference"), cfg.drift)
            tracking.log_metrics(drift.metrics(record["drift"]))
        older = _articles_by_other_models(output.root, model_uri)
        if older:
            record["articles_by_other_models"] = older
            log.warning("%d articles in %s were labeled by other model versions (%s), not by %s; "
                        "ARGS=\"reprocess=true\" relabels them", sum(older.values()), output.root,
                        ", ".join(f"{uri}: {n}" for uri, n in older.items()), model_uri)
        record.update(status="finished", finished=_iso(time.time()),
                      wall_seconds=round(time.time() - started, 2), **_summary(counts))
        record["segments_per_second"] = round(counts.segments / max(record["wall_seconds"], 1e-9),
                                              1)
        tracking.log_metrics({k: v for k, v in record.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool)})
        tracking.log_dict(record, "predict_summary.json")
        output.write_run_record(record)
        if cfg.batch_report.enabled:
            log.info("wrote %s", batch_report.write(output.root, cfg.batch_report))
    return record


class _Batcher:
    """Reads units file by file, buffers the engine's rows for them, and commits a part whenever
    the buffer holds `batch_segments` rows (segments; whole pages for an engine that segments
    them itself) or `batch_units` units: memory stays bounded by the batch."""

    def __init__(self, cfg, output: Output, state: State, schema, engine, model_uri, run_id,
                 run_date, counts: Counts, taxonomy: dict):
        self.output, self.state, self.schema = output, state, schema
        self.engine, self.model_uri = engine, model_uri
        self.run_id, self.run_date, self.counts = run_id, run_date, counts
        self.reprocess = bool(cfg.reprocess)
        self.limits = Limits.from_config(cfg.limits)
        self.cache_dir = Path(cfg.paths.cache)
        self.batch_segments, self.batch_units = int(cfg.batch_segments), int(cfg.batch_units)
        self.segment_pages = int(cfg.segment_pages)
        self.segmented_pages = self.segmented_rows = 0  # what the engine made of pages so far
        self.keys_this_run: set[str] = set()
        self.taxonomy, self.article_schema = taxonomy, rollups.article_schema(taxonomy)
        self.dominant_share = float(cfg.articles.dominant_topic_share)
        self._reset()

    def _reset(self):
        self.rows, self.units, self.files, self.quarantined, self.redone = [], [], [], [], set()
        self.pending: list[dict] = []  # pages read, not yet segmented

    def run(self, todo: list[InputFile]) -> None:
        started = time.time()
        bar = tqdm(todo, desc="predict", unit="file", disable=None)
        for file in bar:
            for unit in read_units(file, self.limits, self.cache_dir):
                self._add(unit)
                if len(self.rows) >= self.batch_segments or len(self.units) >= self.batch_units:
                    self._commit()
            self.files.append({"file": str(file.path), "fingerprint": file.fingerprint})
            elapsed = max(time.time() - started, 1e-9)
            bar.set_postfix(articles_s=f"{self.counts.articles_written / elapsed:.1f}",
                            segments_s=f"{self.counts.segments / elapsed:.1f}", refresh=False)
        if self.units or self.files:
            self._commit()

    def _add(self, unit: Unit) -> None:
        key = unit.key
        if key in self.keys_this_run:  # the same record id twice in one file: keep both
            key = f"{unit.file}:{unit.line}"
        previous = self.state.units.get(key)
        if previous and previous["hash"] == unit.content_hash and not self.reprocess:
            self.counts.articles_unchanged += 1
            return
        self.keys_this_run.add(key)
        if previous:
            self.redone.add(key)
        entry = {"key": key, "hash": unit.content_hash, "file": unit.file}
        if unit.reason:
            self.counts.quarantined += 1
            self.counts.quarantine_reasons[unit.reason.split(" (")[0].split(";")[0]] += 1
            log.warning("quarantined %s%s: %s", unit.file, f":{unit.line}" if unit.line else "",
                        unit.reason)
            entry["quarantined"] = unit.reason
            self.quarantined.append({"file": unit.file, "line": unit.line, "reason": unit.reason,
                                     "excerpt": unit.excerpt, "key": key,
                                     "content_hash": unit.content_hash, "run_id": self.run_id})
        else:
            if previous and previous.get("article_id"):
                self.counts.articles_changed += 1
            else:
                self.counts.articles_new += 1
            article_id = self._article_id(key, unit, previous)
            entry["article_id"] = article_id
            if unit.encoding not in ("utf-8", ""):
                log.info("decoded %s as %s", unit.file, unit.encoding)
            self.pending.append({"article_id": article_id, "text": unit.text, "source": key,
                                 "ready_cut": unit.ready_cut, "content_hash": unit.content_hash,
                                 "run_id": self.run_id})
            if len(self.pending) >= self._pages_per_call():
                self._segment_pending()
            self.counts.articles_written += 1
        self.units.append(entry)
        self.state.units[key] = entry

    def _article_id(self, key: str, unit: Unit, previous: dict | None) -> str:
        """Stable and unique: the id this key had before, else the proposed one, else (taken by
        another source) the proposed one with a short hash of the key."""
        if previous and previous.get("article_id"):
            return previous["article_id"]
        article_id = unit.article_id
        if self.state.owners.get(article_id, key) != key:
            article_id = f"{article_id}~{hashlib.sha1(key.encode()).hexdigest()[:8]}"
            log.info("article id %r is taken by another source; %s gets %r", unit.article_id,
                     key, article_id)
        self.state.owners[article_id] = key
        return article_id

    def _pages_per_call(self) -> int:
        """`segment_pages`, or fewer where that many would overfill the batch (at the rows per
        page seen so far; one page at first), so a part stays near `batch_segments` rows."""
        per_page = (self.segmented_rows / self.segmented_pages if self.segmented_pages
                    else self.batch_segments)
        room = max(self.batch_segments - len(self.rows), 1)
        return max(1, min(self.segment_pages, math.ceil(room / max(per_page, 1e-9))))

    def _segment_pending(self) -> None:
        rows = self.engine.rows(self.pending)
        self.segmented_pages += len(self.pending)
        self.segmented_rows += len(rows)
        self.rows += rows
        self.pending = []

    def _commit(self) -> None:
        self._segment_pending()
        if self.rows:
            predicted = self.engine.run(pd.DataFrame(self.rows))
            predicted["model_uri"] = self.model_uri  # (columns not in the schema are dropped)
        else:  # a batch of quarantined inputs only: an empty part with the same columns
            predicted = pd.DataFrame(columns=self.schema.names)
        articles = rollups.article_rows(predicted, self.taxonomy, self.dominant_share)
        part = self.output.commit(predicted, self.schema, self.run_id, self.run_date,
                                  self.counts.parts, self.units, self.files, self.quarantined,
                                  articles, self.article_schema)
        self.counts.parts += 1
        self.counts.segments += len(predicted)
        if len(predicted):
            self.counts.topics.update(t for topics in predicted["topics"] for t in topics)
            self.counts.stances.update(predicted["stance"])
        if self.redone:
            self.counts.rows_superseded += self.output.supersede()
        log.info("committed %s: %d inputs (pages or records) read, %d of them quarantined, "
                 "%d segments", part.name, len(self.units), len(self.quarantined), len(predicted))
        self._reset()


def _articles_by_other_models(root: Path, model_uri: str) -> dict[str, int]:
    """{model version: articles} for the output's articles labeled by a model other than
    `model_uri`: a run labels only new and changed pages, so once `champion` moves the output
    holds both the old model's labels and the new one's until it is reprocessed."""
    return {uri: n for uri, n in articles_per_model(root).items() if uri != model_uri}


def _summary(counts: Counts) -> dict:
    summary = {k: v for k, v in asdict(counts).items() if not isinstance(v, dict)}
    summary["quarantine_reasons"] = dict(counts.quarantine_reasons)
    summary.update({f"topic/{t}": n for t, n in sorted(counts.topics.items())})
    summary.update({f"stance/{s}": n for s, n in sorted(counts.stances.items())})
    return summary


def _check_writable(root: Path, min_free_mb: float) -> None:
    """Fail before anything is written: the output (or its nearest existing parent) must take
    a file, and its disk must have room."""
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PredictError(f"cannot write to {root}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise PredictError(_os_error_message(e, root)) from e
    free_mb = shutil.disk_usage(existing).free / 2**20
    if free_mb < min_free_mb:
        raise PredictError(f"output disk of {root} is full ({free_mb:.0f} MB free, "
                           f"min_free_mb={min_free_mb:g}); free space or choose another output=")


def _os_error_message(e: OSError, root: Path) -> str:
    if e.errno == errno.ENOSPC:
        return f"output disk of {root} is full; free space, then re-run (committed parts are kept)"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write to {root}: {e.strerror}; choose another output= or fix its "
                f"permissions")
    return f"{e.strerror or e} ({getattr(e, 'filename', '') or root})"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")

