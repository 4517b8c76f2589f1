"""Reading labeled segments: schema-checked, bad records set aside, not lost.

The reader returns the good records and a list of `Rejected` (file, line, reason, raw text), so a
job can go on with what is valid and keep a record of what it skipped. (Raw pages for prediction
are read by `topicstance.inputs`.)
"""

import json
from dataclasses import dataclass
from pathlib import Path

import datasets

from topicstance.labels import Taxonomy
from topicstance.textcodec import decode

REQUIRED_TEXT_FIELDS = ("id", "article_id", "text")


class DataError(ValueError):
    """Labeled data or provenance records a job cannot use (unreadable, invalid, none left)."""


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
            # decoded as `make predict` decodes pages: a byte-order mark (Notepad's, Excel's) or
            # a Windows-1252 file saved by an editor reads as the text it holds
            text, _, problem = decode(path.read_bytes())
        except OSError as e:  # missing, a folder, unreadable: the file is set aside whole
            rejected.append(Rejected(str(path), 0, f"cannot read: {e.strerror or e}"))
            continue
        if problem and problem != "empty file":
            rejected.append(Rejected(str(path), 0, f"cannot read: {problem}"))
            continue
        lines = text.splitlines()
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
