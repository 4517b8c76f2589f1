"""The prediction output folder: a partitioned Parquet dataset that records its own progress.

```
OUTPUT/
  segments/run_date=YYYY-MM-DD/part-<run id>-<n>.parquet   one row per segment
  articles/run_date=YYYY-MM-DD/part-<run id>-<n>.parquet   one row per article of that part
  quarantine/part-<run id>-<n>.jsonl                        inputs set aside, with the reason
  _runs/<run id>.json                                       one record per run
  .lock                                                     held while a run writes
```

A batch is committed by one atomic rename of its complete part file: that is the only commit
point. Each part carries, in its Parquet metadata, the units (articles or quarantined inputs)
and the whole files it completed, so the output itself is the record of what was done: a run
killed at any moment leaves committed parts (kept) and temporary files (removed by the next
run), never half a part. A part's article rows (`topicstance.rollups`) are written just before it,
under the same name in `articles/`; an article part whose segment part never appeared is
removed like any temporary file (and `read_articles` never reads it). When a changed article is processed again, its rows are removed from
the older part (and from its article part) by rewriting it (again write-then-rename), so every
reader sees each article exactly once.
"""

import fcntl
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

META_KEY = b"topicstance"
PART_NAME = re.compile(r"^part-(?P<run>[0-9TZ]+-\d+)-(?P<n>\d{5})\.parquet$")
BASE_COLUMNS = [("article_id", pa.string()), ("segment_id", pa.string()), ("text", pa.string()),
                ("start", pa.int64()), ("end", pa.int64()), ("source", pa.string()),
                ("content_hash", pa.string()), ("run_id", pa.string())]


class OutputLocked(RuntimeError):
    """Another run holds the output folder."""


def segment_schema(prediction_columns: list[str]) -> pa.Schema:
    """The same columns and types in every part: the segment, then the model's outputs."""
    fields = [pa.field(name, kind) for name, kind in BASE_COLUMNS]
    for name in prediction_columns:
        kind = (pa.list_(pa.string()) if name == "topics"
                else pa.string() if name == "stance" else pa.float64())
        fields.append(pa.field(name, kind))
    fields.append(pa.field("model_uri", pa.string()))
    return pa.schema(fields)


@dataclass
class State:
    """What committed parts say was done: units by key, whole files by path, ids by owner."""
    units: dict[str, dict] = field(default_factory=dict)   # key -> {hash, article_id, ...}
    files: dict[str, str] = field(default_factory=dict)    # file -> fingerprint
    owners: dict[str, str] = field(default_factory=dict)   # article_id -> key


class Output:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.segments = self.root / "segments"
        self.articles = self.root / "articles"
        self.quarantine = self.root / "quarantine"
        self.runs = self.root / "_runs"

    # ---- locking and recovery ----------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive, non-blocking: a second run fails at once. The kernel drops the lock when
        its process dies, so a killed run never blocks the next one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise OutputLocked(f"{self.root} is being written by {holder}; "
                                   f"wait for it to finish (one run per output folder)") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def recover(self) -> dict:
        """Remove what a killed run left (temporary files, quarantine files of batches that were
        never committed), finish any interrupted supersede, and mark its run records. Call with
        the lock held. Returns what was done, for the log."""
        removed = 0
        for folder in (self.segments, self.articles, self.quarantine, self.runs):
            for tmp in folder.rglob(".*.tmp") if folder.exists() else []:
                tmp.unlink(missing_ok=True)
                removed += 1
        committed = {p.stem for p in self._parts()}
        for q in sorted(self.quarantine.glob("part-*.jsonl")) if self.quarantine.exists() else []:
            if q.stem not in committed:
                q.unlink()
                removed += 1
        for a in self._article_parts():
            if a.stem not in committed:
                a.unlink()
                removed += 1
        interrupted = []
        for record_path in sorted(self.runs.glob("*.json")) if self.runs.exists() else []:
            record = json.loads(record_path.read_text())
            if record.get("status") == "running":
                record["status"] = "interrupted"
                self.write_run_record(record)
                interrupted.append(record)
        self.supersede()
        return {"temporary_files_removed": removed, "interrupted_runs": interrupted}

    # ---- reading what was done ---------------------------------------------------------------

    def _parts(self) -> list[Path]:
        """Committed parts in commit order (run ids sort by time, then the part number)."""
        if not self.segments.exists():
            return []
        parts = [p for p in self.segments.glob("run_date=*/part-*.parquet")
                 if PART_NAME.match(p.name)]
        return sorted(parts, key=lambda p: PART_NAME.match(p.name).group("run", "n"))

    def _article_parts(self) -> list[Path]:
        if not self.articles.exists():
            return []
        return sorted(p for p in self.articles.glob("run_date=*/part-*.parquet")
                      if PART_NAME.match(p.name))

    def _article_part(self, part: Path) -> Path:
        """The article part written with segment part `part`."""
        return self.articles / part.parent.name / part.name

    @staticmethod
    def _meta(part: Path) -> dict:
        metadata = pq.read_schema(part).metadata or {}
        return json.loads(metadata.get(META_KEY, b'{"units": [], "files": []}'))

    def state(self) -> State:
        state = State()
        for part in self._parts():
            meta = self._meta(part)
            for unit in meta["units"]:
                state.units[unit["key"]] = unit
                if unit.get("article_id"):
                    state.owners[unit["article_id"]] = unit["key"]
            for entry in meta["files"]:
                state.files[entry["file"]] = entry["fingerprint"]
        return state

    # ---- writing -----------------------------------------------------------------------------

    def commit(self, rows: pd.DataFrame, schema: pa.Schema, run_id: str, run_date: str, n: int,
               units: list[dict], files: list[dict], quarantined: list[dict],
               articles: pd.DataFrame, article_schema: pa.Schema) -> Path:
        """Write one batch: its quarantine records and article rows first, then its segment
        part (the commit point)."""
        name = f"part-{run_id}-{n:05d}"
        if quarantined:
            _write_atomic(self.quarantine / f"{name}.jsonl",
                          "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in quarantined))
        _write_table_atomic(pa.Table.from_pandas(articles, schema=article_schema,
                                                 preserve_index=False),
                            {"run_id": run_id},
                            self.articles / f"run_date={run_date}" / f"{name}.parquet")
        table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
        meta = {"run_id": run_id, "units": units, "files": files}
        part = self.segments / f"run_date={run_date}" / f"{name}.parquet"
        _write_table_atomic(table, meta, part)
        return part

    def supersede(self) -> int:
        """Drop, from older parts, the rows, units and quarantine records of keys a later part
        processed again.
        Idempotent, so a run killed half-way through it is finished by the next. Returns the
        number of rows removed."""
        parts = self._parts()
        later_keys: set[str] = set()
        removed = 0
        for part in reversed(parts):
            meta = self._meta(part)
            stale = {u["key"] for u in meta["units"]} & later_keys
            later_keys |= {u["key"] for u in meta["units"]}
            if not stale:
                continue
            article_part = self._article_part(part)
            if article_part.exists():  # first: the segment part's units are what says "stale"
                _drop_sources(article_part, stale, self._meta(article_part))
            quarantine = self.quarantine / f"{part.stem}.jsonl"
            if quarantine.exists():  # an input set aside then, read again (fixed, or reprocess)
                _drop_records(quarantine, stale)
            removed += _drop_sources(part, stale, {**meta, "units": [
                u for u in meta["units"] if u["key"] not in stale]})
        return removed

    def write_run_record(self, record: dict) -> Path:
        path = self.runs / f"{record['run_id']}.json"
        _write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return path


def read_segments(output: Path, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
    """Every committed segment row of an output folder (the `run_date` partition included)."""
    return _read_dataset(Path(output) / "segments", columns, filters)


def segment_columns(output: Path) -> list[str]:
    """The columns of an output folder's segment rows (the `run_date` partition included)."""
    folder = Path(output) / "segments"
    if not folder.exists():
        return []
    return ds.dataset(folder, format="parquet", partitioning="hive").schema.names


def read_articles(output: Path) -> pd.DataFrame:
    """Every committed article row of an output folder (see `topicstance.rollups`): only parts
    whose segment part is committed (a run killed between the two leaves an article part that
    its next run removes)."""
    out = Output(Path(output))
    committed = {p.relative_to(out.segments) for p in out._parts()}
    parts = [str(a) for a in out._article_parts() if a.relative_to(out.articles) in committed]
    if not parts:
        return pd.DataFrame()
    return ds.dataset(parts, format="parquet", partitioning="hive",
                      partition_base_dir=str(out.articles)).to_table().to_pandas()


def articles_per_model(output: Path) -> dict[str, int]:
    """{model version: committed articles it labeled}, from the article rows' `model_uri`
    column alone, read dictionary-encoded: a year of daily runs costs a few MB."""
    out = Output(Path(output))
    committed = {p.relative_to(out.segments) for p in out._parts()}
    parts = [str(a) for a in out._article_parts() if a.relative_to(out.articles) in committed]
    if not parts:
        return {}
    counts = Counter()
    for part in parts:
        column = pq.read_table(part, columns=["model_uri"], read_dictionary=["model_uri"])
        for entry in pc.value_counts(column["model_uri"].combine_chunks()).to_pylist():
            counts[str(entry["values"])] += entry["counts"]
    return dict(sorted(counts.items()))


def _read_dataset(folder: Path, columns=None, filters=None) -> pd.DataFrame:
    if not folder.exists():
        return pd.DataFrame()
    return pq.read_table(folder, partitioning="hive", columns=columns,
                         filters=filters).to_pandas()


def _drop_sources(part: Path, sources: set[str], meta: dict) -> int:
    """Rewrite `part` without the rows of `sources`; returns how many rows went."""
    table = pq.read_table(part)
    keep = pc.invert(pc.is_in(table["source"], value_set=pa.array(sorted(sources))))
    _write_table_atomic(table.filter(keep), meta, part)
    return table.num_rows - int(pc.sum(keep).as_py() or 0)


def _drop_records(path: Path, keys: set[str]) -> None:
    """Rewrite a quarantine file without the records of `keys` (remove it if none is left)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["key"] not in keys]
    if not kept:
        path.unlink()
    elif len(kept) < len(lines):
        _write_atomic(path, "".join(kept))


def _write_table_atomic(table: pa.Table, meta: dict, path: Path) -> None:
    metadata = dict(table.schema.metadata or {})
    metadata[META_KEY] = json.dumps(meta, ensure_ascii=False).encode()
    table = table.replace_schema_metadata(metadata)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp)
    _fsync_and_rename(tmp, path)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync_and_rename(tmp, path)


def _fsync_and_rename(tmp: Path, path: Path) -> None:
    """Durable commit: the file's bytes reach the disk before its name appears."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
