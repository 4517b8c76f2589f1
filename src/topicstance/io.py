"""Reading labeled segments and raw articles, writing outputs; bad records set aside, not lost.

Every reader returns the good records and a list of `Rejected` (file, line, reason, raw text),
so a job can go on with what is valid and keep a record of what it skipped.
"""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import datasets
import pandas as pd
import trafilatura

from topicstance.labels import Taxonomy

ARTICLE_SUFFIXES = {".txt": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl",
                    ".parquet": "parquet"}
REQUIRED_TEXT_FIELDS = ("id", "article_id", "text")


@dataclass(frozen=True)
class Rejected:
    file: str
    line: int  # 1-based line (JSONL) or row (Parquet); 0 for a whole file
    reason: str
    raw: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


# ---- labeled segments ------------------------------------------------------------------------

def read_labeled(paths, taxonomy: Taxonomy) -> tuple[datasets.Dataset, list[Rejected]]:
    """Schema-checked labeled records from JSONL files (format: labeling-guidelines.md).

    A record is rejected when it is not a JSON object, lacks a non-empty `id`, `article_id` or
    `text`, has a label outside the taxonomy, or repeats an `id` seen earlier in any file.
    """
    records, rejected, seen_ids = [], [], {}
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:  # missing, a folder, unreadable: the file is set aside whole
            rejected.append(Rejected(str(path), 0, f"cannot read: {e.strerror or e}"))
            continue
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record, errors = _parse_labeled(line, taxonomy)
            if not errors and record["id"] in seen_ids:
                errors.append(f"duplicate id {record['id']!r} (first at {seen_ids[record['id']]})")
            if errors:
                rejected.append(Rejected(str(path), line_no, "; ".join(errors), line))
                continue
            seen_ids[record["id"]] = f"{path}:{line_no}"
            records.append({"id": record["id"], "article_id": record["article_id"],
                            "text": record["text"], "topics": list(record["topics"]),
                            "stance": record["stance"], "source": str(record.get("source", "")),
                            "file": str(path), "line": line_no})
    features = datasets.Features({
        "id": datasets.Value("string"), "article_id": datasets.Value("string"),
        "text": datasets.Value("string"), "topics": datasets.List(datasets.Value("string")),
        "stance": datasets.Value("string"), "source": datasets.Value("string"),
        "file": datasets.Value("string"), "line": datasets.Value("int64"),
    })
    columns = {name: [r[name] for r in records] for name in features}  # works with no records
    return datasets.Dataset.from_dict(columns, features=features), rejected


def _parse_labeled(line: str, taxonomy: Taxonomy) -> tuple[dict | None, list[str]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        return None, [f"not valid JSON ({e.msg} at column {e.colno})"]
    if not isinstance(record, dict):
        return None, [f"expected a JSON object, got {type(record).__name__}"]
    errors = [f"missing or empty {key!r}" for key in REQUIRED_TEXT_FIELDS
              if not isinstance(record.get(key), str) or not record[key].strip()]
    if "topics" not in record or "stance" not in record:
        errors.append("missing 'topics' or 'stance'")
    else:
        errors += taxonomy.label_errors(record["topics"], record["stance"])
    return record, errors


# ---- raw articles ----------------------------------------------------------------------------

def input_files(path: Path) -> list[Path]:
    """The article files under `path` (a file or a folder, searched recursively), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"input not found: {path}")
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)


def read_articles(path: Path, cache_dir: Path | None = None,
                  rejected: list[Rejected] | None = None) -> Iterator[tuple[str, str, str]]:
    """Yield (article_id, text, source) for every article under `path`.

    A page's id is its path below `path` without the suffix (`2024-11-07/index`); `.txt` is a
    page as scraped; `.html` goes through trafilatura; `.jsonl` and `.parquet` hold
    one article per record with a `text` field and an optional `id`. Records that cannot be read
    are appended to `rejected` (when given) and skipped.
    """
    rejected = rejected if rejected is not None else []
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    for file in input_files(path):
        kind = ARTICLE_SUFFIXES.get(file.suffix.lower())
        page_id = file.relative_to(root).with_suffix("").as_posix()
        if kind is None:
            rejected.append(Rejected(str(file), 0, f"unsupported file type {file.suffix!r}"))
        elif kind == "text":
            yield page_id, file.read_text(encoding="utf-8", errors="replace"), str(file)
        elif kind == "html":
            text = trafilatura.extract(file.read_text(encoding="utf-8", errors="replace"),
                                       include_comments=False, include_tables=False)
            if text:
                yield page_id, text, str(file)
            else:
                rejected.append(Rejected(str(file), 0, "no article text found in the HTML"))
        elif kind == "jsonl":
            yield from _jsonl_articles(file, rejected)
        else:
            yield from _parquet_articles(file, cache_dir, rejected)


def _jsonl_articles(file: Path, rejected: list[Rejected]):
    with file.open(encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                rejected.append(Rejected(str(file), line_no, f"not valid JSON ({e.msg})", line))
                continue
            article = _article_from_record(record, file, line_no, rejected, line)
            if article:
                yield article


def _parquet_articles(file: Path, cache_dir: Path | None, rejected: list[Rejected]):
    try:
        rows = datasets.load_dataset("parquet", data_files=str(file), split="train", streaming=True,
                                     cache_dir=str(cache_dir) if cache_dir else None)
        for row_no, record in enumerate(rows, 1):
            article = _article_from_record(record, file, row_no, rejected, "")
            if article:
                yield article
    except Exception as e:  # noqa: BLE001 -- a corrupt file is set aside whole, the rest go on
        rejected.append(Rejected(str(file), 0, f"cannot read Parquet: {e}"))


def _article_from_record(record, file: Path, line_no: int, rejected: list[Rejected], raw: str):
    if not isinstance(record, dict):
        rejected.append(Rejected(str(file), line_no, "expected a JSON object", raw))
        return None
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        rejected.append(Rejected(str(file), line_no, "missing or empty 'text'", raw or str(record)))
        return None
    article_id = record.get("id")
    article_id = str(article_id) if article_id not in (None, "") else f"{file.stem}-{line_no}"
    return article_id, text, f"{file}:{line_no}"


# ---- writing ---------------------------------------------------------------------------------

def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """Write to a temporary name beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def write_rejected(rejected: list[Rejected], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rejected:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


@contextmanager
def output_lock(folder: Path):
    """Hold an exclusive lock on `folder` so two jobs never write into it at once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another job is writing to {folder}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
