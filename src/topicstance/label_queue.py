"""The labeling loop: the segments the model is least sure of out, corrected labels back in.

`build_queue` reads a prediction output, scores every segment's uncertainty, and picks `n`:
most uncertain first, taken in turn from every predicted (topic, stance) cell so the queue is
spread across labels, at most `max_per_article` from one article, no near-duplicates of each
other, and none that is already labeled (the same text or a near-duplicate of one). Each row is a labeled record in the guidelines'
format (the model's labels filled in, to be corrected) plus the article text around it.

`import_labels` takes such a file back (JSONL or CSV), checks every row against the format and
the taxonomy, refuses texts that are already labeled (or near-duplicates of labeled texts,
which `make validate-data` would reject), and appends the good rows to the review
file with `source: "review"`.
"""

import csv
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from topicstance.batch_report import latest_taxonomy, run_records
from topicstance.io import Rejected, read_labeled
from topicstance.labels import Taxonomy
from topicstance.outputs import read_segments
from topicstance.quality import most_similar, normalise
from topicstance.textcodec import decode

REVIEW_SOURCE = "review"
CSV_COLUMNS = ["id", "article_id", "text", "topics", "stance", "source", "headline", "before",
               "after", "model_topics", "model_stance", "uncertainty", "start", "end",
               "model_uri"]
TOPIC_SEPARATOR = ";"


class LabelQueueError(RuntimeError):
    """Nothing usable to work from: one line for the user, a non-zero exit."""


# ---- the queue -----------------------------------------------------------------------------

def uncertainty(segments: pd.DataFrame, taxonomy: dict, thresholds: dict[str, float],
                method: str) -> pd.Series:
    """How unsure the model is of each segment, 0 (sure) to 1, the larger of its stance's and
    its least sure topic's uncertainty.

    `margin`: stance 1 - (top probability - second); topic 1 - distance of the score from its
    threshold, scaled to the room on that side. `entropy`: stance entropy / log(n stances);
    topic binary entropy of the score (in bits).
    """
    stances = segments[[f"prob_{s}" for s in taxonomy["stances"]]].to_numpy(dtype=float)
    scores = segments[[f"score_{t}" for t in taxonomy["topics"]]].to_numpy(dtype=float)
    if method == "margin":
        ordered = np.sort(stances, axis=1)
        stance_u = 1.0 - (ordered[:, -1] - ordered[:, -2])
        cut = np.array([thresholds.get(t, 0.5) for t in taxonomy["topics"]])
        room = np.where(scores >= cut, 1.0 - cut, cut)
        topic_u = 1.0 - np.abs(scores - cut) / np.clip(room, 1e-9, None)
    elif method == "entropy":
        p = np.clip(stances, 1e-12, 1.0)
        stance_u = -(p * np.log(p)).sum(axis=1) / np.log(stances.shape[1])
        q = np.clip(scores, 1e-12, 1 - 1e-12)
        topic_u = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    else:
        raise ValueError(f"label_queue.method must be margin or entropy, got {method!r}")
    topic_u = topic_u.max(axis=1) if topic_u.shape[1] else np.zeros(len(segments))
    return pd.Series(np.maximum(stance_u, topic_u), index=segments.index)


def build_queue(output: Path, n: int, cfg, labeled_files) -> tuple[Path, Path, dict]:
    """Write the queue of `output` as JSONL and CSV under `output/label_queue/`; returns both
    paths and counts (candidates, already labeled, chosen)."""
    output = Path(output)
    segments = read_segments(output)
    if segments.empty:
        raise LabelQueueError(f"no predicted segments under {output}/segments; run "
                              f"`make predict` into it first")
    records = run_records(output)
    taxonomy = latest_taxonomy(records, segments)
    thresholds = next((r["thresholds"] for r in reversed(records) if r.get("thresholds")), {})
    segments = segments.sort_values(["article_id", "start"]).reset_index(drop=True)
    context = _surroundings(segments)

    labeled = _labeled_texts(labeled_files, Taxonomy.from_dict(taxonomy))
    similar = most_similar(list(segments["text"]), labeled)
    is_labeled = pd.Series([s >= float(cfg.near_duplicate_threshold) for _, s in similar],
                           index=segments.index) | segments["text"].map(normalise).isin(
                               set(map(normalise, labeled)))
    candidates = segments[~is_labeled].copy()
    candidates["uncertainty"] = uncertainty(candidates, taxonomy, thresholds, cfg.method)
    chosen = _spread(candidates, taxonomy, n, int(cfg.max_per_article),
                     float(cfg.near_duplicate_threshold))
    rows = [_queue_row(candidates.loc[i], context.loc[i]) for i in chosen]

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = output / "label_queue"
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, table = folder / f"queue-{stamp}.jsonl", folder / f"queue-{stamp}.csv"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                     encoding="utf-8")
    # With a byte-order mark: Excel opens a UTF-8 CSV without one as Windows-1252, and curly
    # quotes and accented names would come back from it garbled.
    with table.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "topics": TOPIC_SEPARATOR.join(r["topics"]),
                          "model_topics": TOPIC_SEPARATOR.join(r["model_topics"])} for r in rows)
    return jsonl, table, {"segments": len(segments), "already_labeled": int(is_labeled.sum()),
                          "chosen": len(rows)}


def _surroundings(segments: pd.DataFrame) -> pd.DataFrame:
    """Each segment's headline (its article's first segment) and the segments either side."""
    same_before = segments["article_id"].eq(segments["article_id"].shift(1))
    same_after = segments["article_id"].eq(segments["article_id"].shift(-1))
    return pd.DataFrame({
        "headline": segments.groupby("article_id")["text"].transform("first"),
        "before": segments["text"].shift(1).where(same_before, ""),
        "after": segments["text"].shift(-1).where(same_after, ""),
    }, index=segments.index)


def _labeled_texts(files, taxonomy: Taxonomy) -> list[str]:
    rows, _ = read_labeled([Path(f) for f in files if Path(f).exists()], taxonomy)
    return list(rows["text"])


def _spread(candidates: pd.DataFrame, taxonomy: dict, n: int, max_per_article: int,
            near_duplicate: float) -> list:
    """Round-robin over predicted (first topic or none, stance) cells, most uncertain first."""
    if candidates.empty or n <= 0:
        return []
    cell = [f"{(list(t) or [taxonomy['no_topic']])[0]}|{s}"
            for t, s in zip(candidates["topics"], candidates["stance"])]
    ordered = candidates.assign(cell=cell).sort_values("uncertainty", ascending=False)
    queues = {c: list(group.index) for c, group in ordered.groupby("cell", sort=False)}
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True) \
        .fit_transform(candidates["text"].map(normalise))
    position = {index: k for k, index in enumerate(candidates.index)}
    chosen, per_article, picked_vectors = [], {}, []
    while len(chosen) < n and any(queues.values()):
        for c in list(queues):
            while queues[c]:
                i = queues[c].pop(0)
                article = candidates.at[i, "article_id"]
                if per_article.get(article, 0) >= max_per_article:
                    continue
                v = vectors[position[i]]
                if picked_vectors and (v @ _stack(picked_vectors).T).max() >= near_duplicate:
                    continue
                chosen.append(i)
                picked_vectors.append(v)
                per_article[article] = per_article.get(article, 0) + 1
                break
            if len(chosen) >= n:
                break
    return chosen


def _stack(vectors):
    from scipy.sparse import vstack

    return vstack(vectors)


def _queue_row(segment: pd.Series, around: pd.Series) -> dict:
    topics = [str(t) for t in segment["topics"]]
    return {"id": segment["segment_id"], "article_id": segment["article_id"],
            "text": segment["text"], "topics": topics, "stance": segment["stance"],
            "source": REVIEW_SOURCE, "headline": around["headline"], "before": around["before"],
            "after": around["after"], "model_topics": topics,
            "model_stance": segment["stance"],
            "uncertainty": round(float(segment["uncertainty"]), 4),
            "start": int(segment["start"]), "end": int(segment["end"]),
            "model_uri": segment["model_uri"]}


# ---- importing corrected labels ------------------------------------------------------------

def import_labels(file: Path, target: Path, labeled_files, taxonomy: Taxonomy,
                  near_duplicate: float) -> tuple[int, list[Rejected]]:
    """Append the valid, new rows of `file` to `target`; returns (rows added, rows refused).
    A row whose text is a near-duplicate (similarity >= `near_duplicate`) of a labeled text
    or of an earlier row is refused, as `make validate-data` would."""
    file = Path(file)
    if not file.is_file():
        raise LabelQueueError(f"{file}: no such file")
    with tempfile.TemporaryDirectory() as tmp:
        rows, rejected = read_labeled([_as_jsonl(file, Path(tmp))], taxonomy)
    rejected = [Rejected(str(file), r.line, r.reason, r.raw) for r in rejected]
    existing, _ = read_labeled([Path(f) for f in labeled_files if Path(f).exists()], taxonomy)
    where = {normalise(t): f"{f}:{n}" for t, f, n in zip(existing["text"], existing["file"],
                                                          existing["line"])}
    ids = {i: f"{f}:{n}" for i, f, n in zip(existing["id"], existing["file"], existing["line"])}
    nearest = most_similar(list(rows["text"]), list(existing["text"]))
    good, kept_texts = [], []
    for row, (j, similarity) in zip(rows, nearest):
        key = normalise(row["text"])
        earlier = [k for k, s in most_similar([row["text"]], kept_texts) if s >= near_duplicate]
        if key in where:
            rejected.append(Rejected(str(file), row["line"], f"text already labeled at "
                                                             f"{where[key]}"))
        elif similarity >= near_duplicate:
            rejected.append(Rejected(str(file), row["line"], f"near-duplicate of "
                                     f"{existing[j]['file']}:{existing[j]['line']} "
                                     f"(similarity {similarity:.2f})"))
        elif earlier:
            rejected.append(Rejected(str(file), row["line"], f"near-duplicate of "
                                     f"{file}:{good[earlier[0]]['line']}"))
        elif row["id"] in ids:
            rejected.append(Rejected(str(file), row["line"], f"id {row['id']!r} already used "
                                                             f"at {ids[row['id']]}"))
        else:
            where[key] = ids[row["id"]] = f"{file}:{row['line']}"
            kept_texts.append(row["text"])
            good.append({"id": row["id"], "article_id": row["article_id"], "text": row["text"],
                         "topics": row["topics"], "stance": row["stance"],
                         "source": REVIEW_SOURCE, "line": row["line"]})
    if good:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps({k: v for k, v in r.items() if k != "line"},
                                    ensure_ascii=False) + "\n" for r in good)
    return len(good), sorted(rejected, key=lambda r: r.line)


def _as_jsonl(file: Path, tmp: Path) -> Path:
    """JSONL as it is; a CSV (the queue's, edited in a spreadsheet) as a JSONL file in `tmp`
    whose line numbers are the CSV's row numbers (the header is row 1).

    Spreadsheets save CSV their own way: Excel's "CSV UTF-8" starts with a byte-order mark, its
    plain "CSV" is Windows-1252, and in locales whose decimal mark is a comma the separator is
    a semicolon. All three are read (`textcodec.decode`; the separator the header uses)."""
    if file.suffix.lower() != ".csv":
        return file
    text, _, problem = decode(file.read_bytes())
    if problem:
        raise LabelQueueError(f"cannot read {file}: {problem}")
    header = text.split("\n", 1)[0]
    separator = ";" if header.count(";") > header.count(",") else ","
    lines = []
    for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=separator):
        topics = row.get("topics")
        if topics is not None:
            row["topics"] = [t.strip() for t in topics.split(TOPIC_SEPARATOR) if t.strip()]
        lines.append(json.dumps(row, ensure_ascii=False))
    converted = tmp / file.name
    converted.write_text("\n" + "\n".join(lines) + "\n", encoding="utf-8")  # 1 = the header
    return converted
