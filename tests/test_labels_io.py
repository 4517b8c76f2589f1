"""The taxonomy built from conf/labels, the labeled-record reader and the article readers."""

import json
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from conftest import write_jsonl
from topicstance.config import CONF_DIR
from topicstance.io import read_articles, read_labeled, write_parquet_atomic, write_rejected
from topicstance.labels import Taxonomy

LABELS_YAML = OmegaConf.load(CONF_DIR / "labels" / "default.yaml")


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory):
    from conftest import compose_config

    cfg = compose_config("train", tmp_path_factory.mktemp("exp"))
    return Taxonomy.from_config(cfg.labels)


DROP = object()  # a field value meaning "leave the field out"


def record(taxonomy, i, **changes):
    r = {"id": f"art{i // 3}-p{i:03d}", "article_id": f"art{i // 3}", "text": f"Segment number {i}.",
         "topics": [taxonomy.topics[i % len(taxonomy.topics)]],
         "stance": taxonomy.stances[i % len(taxonomy.stances)], "source": "test"}
    r.update(changes)
    return {k: v for k, v in r.items() if v is not DROP}


# ---- taxonomy ----------------------------------------------------------------------------------

def test_taxonomy_comes_from_config(taxonomy):
    assert taxonomy.name == LABELS_YAML.name
    assert taxonomy.topics == tuple(t.name for t in LABELS_YAML.topics)
    assert taxonomy.stances == tuple(s.name for s in LABELS_YAML.stances)
    assert taxonomy.no_topic == LABELS_YAML.no_topic
    assert taxonomy.no_topic not in taxonomy.topics
    assert len(set(taxonomy.topics)) == len(taxonomy.topics) >= 1
    assert len(set(taxonomy.stances)) == len(taxonomy.stances) >= 2
    assert Taxonomy.from_dict(json.loads(json.dumps(taxonomy.to_dict()))) == taxonomy


def test_taxonomy_matches_the_labeling_guidelines(taxonomy):
    # The default taxonomy is the one the guidelines (taxonomy v1) define.
    assert set(taxonomy.topics) == {"sanctions", "troop_deployment", "espionage_trial",
                                    "domestic_politics"}
    assert set(taxonomy.stances) == {"pro_ukraine", "pro_russia", "neutral"}
    assert taxonomy.no_topic == "other"


def test_label_errors(taxonomy):
    t0, t1 = taxonomy.topics[:2]
    s0 = taxonomy.stances[0]
    assert taxonomy.label_errors([], s0) == []
    assert taxonomy.label_errors([t0, t1], s0) == []
    assert any("unknown topic" in e for e in taxonomy.label_errors(["weather"], s0))
    assert any("unknown topic" in e for e in taxonomy.label_errors([taxonomy.no_topic], s0))
    assert any("twice" in e for e in taxonomy.label_errors([t0, t0], s0))
    assert any("must be a list" in e for e in taxonomy.label_errors(t0, s0))
    assert any("unknown stance" in e for e in taxonomy.label_errors([t0], "pro_mars"))
    assert any("unknown stance" in e for e in taxonomy.label_errors([t0], None))


def test_label_encodings_follow_taxonomy_order(taxonomy):
    topics = taxonomy.topics
    matrix = taxonomy.topics_to_matrix([[topics[-1], topics[0]], [], [topics[1]]])
    expected = np.zeros((3, len(topics)), dtype=np.int64)
    expected[0, [0, len(topics) - 1]] = 1
    expected[2, 1] = 1
    assert (matrix == expected).all()
    stances = list(reversed(taxonomy.stances))
    assert taxonomy.stances_to_index(stances).tolist() == \
        list(reversed(range(len(taxonomy.stances))))


# ---- read_labeled ------------------------------------------------------------------------------

def test_read_labeled_rejects_bad_records_and_keeps_good_ones(taxonomy, tmp_path):
    good = [record(taxonomy, i) for i in range(4)]
    lines = [
        good[0],                                              # 1
        '{"id": "broken", "text": ',                          # 2 bad JSON
        record(taxonomy, 10, topics=["weather"]),             # 3 unknown topic
        good[1],                                              # 4
        record(taxonomy, 11, stance="pro_mars"),              # 5 unknown stance
        record(taxonomy, 12, text=DROP),                      # 6 missing text
        "",                                                   # 7 blank: skipped, still counted
        record(taxonomy, 13, text="   "),                     # 8 empty text
        dict(good[0], text="same id again"),                  # 9 duplicate id
        good[2],                                              # 10
        "[1, 2, 3]",                                          # 11 not an object
        record(taxonomy, 14, topics=DROP),                    # 12 no topics
        good[3],                                              # 13
    ]
    path = write_jsonl(tmp_path / "labeled.jsonl", lines)
    rows, rejected = read_labeled([path], taxonomy)

    assert list(rows["id"]) == [g["id"] for g in good]
    assert list(rows["line"]) == [1, 4, 10, 13]
    assert set(rows["file"]) == {str(path)}
    assert rows[0]["topics"] == good[0]["topics"] and rows[0]["stance"] == good[0]["stance"]
    assert rows[0]["text"] == good[0]["text"]

    reasons = {r.line: r.reason for r in rejected}
    assert sorted(reasons) == [2, 3, 5, 6, 8, 9, 11, 12]
    assert "not valid JSON" in reasons[2]
    assert "unknown topic" in reasons[3] and "weather" in reasons[3]
    assert "unknown stance" in reasons[5] and "pro_mars" in reasons[5]
    assert "'text'" in reasons[6]
    assert "'text'" in reasons[8]
    assert "duplicate id" in reasons[9] and f"{path}:1" in reasons[9]
    assert "JSON object" in reasons[11]
    assert "topics" in reasons[12]
    for r in rejected:
        assert r.file == str(path)
        assert str(r).startswith(f"{path}:{r.line}: ")
        assert r.raw  # the offending line is kept, not lost


def test_read_labeled_duplicate_ids_across_files_and_missing_file(taxonomy, tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [record(taxonomy, 0), record(taxonomy, 1)])
    second = write_jsonl(tmp_path / "b.jsonl", [record(taxonomy, 2), record(taxonomy, 1)])
    missing = tmp_path / "missing.jsonl"
    rows, rejected = read_labeled([first, missing, second], taxonomy)
    assert len(rows) == 3
    assert [(r.file, r.line) for r in rejected] == [(str(missing), 0), (str(second), 2)]
    assert "No such file" in rejected[0].reason
    assert f"{first}:2" in rejected[1].reason


def test_read_labeled_with_no_valid_record_returns_an_empty_dataset(taxonomy, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{not json", '{"id": "x"}'])
    rows, rejected = read_labeled([bad, tmp_path], taxonomy)  # a folder cannot be read either
    assert len(rows) == 0
    assert set(rows.column_names) >= {"id", "article_id", "text", "topics", "stance"}
    assert [(r.file, r.line) for r in rejected] == [(str(bad), 1), (str(bad), 2), (str(tmp_path), 0)]


def test_read_labeled_reads_from_a_pipe(taxonomy, tmp_path):
    """`<(cat a.jsonl b.jsonl)` in a shell hands over a pipe, not a regular file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    line = json.dumps(record(taxonomy, 0)) + "\n"
    writer = threading.Thread(target=fifo.write_text, args=(line,))
    writer.start()
    rows, rejected = read_labeled([fifo], taxonomy)
    writer.join()
    assert (len(rows), rejected) == (1, [])


def test_read_labeled_accepts_other_and_extra_fields(taxonomy, tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [record(taxonomy, 0, topics=[], genre="liveblog",
                                                     source=DROP)])
    rows, rejected = read_labeled([path], taxonomy)
    assert rejected == []
    assert rows[0]["topics"] == [] and rows[0]["source"] == ""


# ---- read_articles -----------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sanctions widened | Example News</title></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<main><article>
<h1>Britain widens sanctions on Russian shipping</h1>
<p>The UK has imposed its biggest sanctions package against Russia in nearly two years, targeting
shipping companies accused of moving oil above the price cap for the Kremlin.</p>
<p>The foreign ministry said it had sanctioned fifty-six bodies and individuals, aiming to hurt
Russia's war effort and to disrupt the supply of components for drones.</p>
<p>Officials in Moscow called the measures illegal and promised a response, while ministers in
London said more pressure would follow if the attacks on Ukrainian cities continue.</p>
</article></main>
<footer>Copyright Example News. All rights reserved.</footer>
</body></html>
"""


def test_read_articles_txt(tmp_path):
    page = tmp_path / "page_one.txt"
    page.write_text("Headline\nBody line one.\n", encoding="utf-8")
    assert list(read_articles(page)) == [("page_one", "Headline\nBody line one.\n", str(page))]


def test_read_articles_html(tmp_path):
    page = tmp_path / "story.html"
    page.write_text(HTML_PAGE, encoding="utf-8")
    empty = tmp_path / "empty.html"
    empty.write_text("<html><head><title>t</title></head><body></body></html>", encoding="utf-8")
    rejected = []
    articles = list(read_articles(tmp_path, rejected=rejected))
    assert [a[0] for a in articles] == ["story"]
    text = articles[0][1]
    assert "biggest sanctions package against Russia" in text
    assert "components for drones" in text
    assert "<p>" not in text and "Copyright" not in text
    assert [(r.file, r.line) for r in rejected] == [(str(empty), 0)]
    assert "no article text" in rejected[0].reason


def test_read_articles_jsonl_with_bad_lines(tmp_path):
    path = write_jsonl(tmp_path / "batch.jsonl", [
        {"id": "a1", "text": "First article text."},            # 1
        {"text": "Second article, no id."},                      # 2
        '{"id": "a3", "text": "unterminated',                    # 3 bad JSON
        {"id": "a4", "title": "no text"},                        # 4 missing text
        "",                                                      # 5 blank
        '"just a string"',                                       # 6 not an object
        {"id": 7, "text": "Numeric id."},                        # 7
    ])
    rejected = []
    articles = list(read_articles(path, rejected=rejected))
    assert [(a, t) for a, t, _ in articles] == [("a1", "First article text."),
                                                ("batch-2", "Second article, no id."),
                                                ("7", "Numeric id.")]
    assert [src for _, _, src in articles] == [f"{path}:1", f"{path}:2", f"{path}:7"]
    assert [(r.file, r.line) for r in rejected] == [(str(path), 3), (str(path), 4),
                                                    (str(path), 6)]
    assert "not valid JSON" in rejected[0].reason
    assert "'text'" in rejected[1].reason
    assert all(str(r).startswith(f"{path}:{r.line}: ") for r in rejected)


def test_read_articles_parquet(tmp_path):
    path = tmp_path / "batch.parquet"
    pd.DataFrame({"id": ["p1", "p2", "p3"],
                  "text": ["Parquet article one.", "", "Parquet article three."]}) \
        .to_parquet(path, index=False)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"this is not a parquet file at all")
    rejected = []
    articles = list(read_articles(tmp_path, cache_dir=tmp_path / "cache", rejected=rejected))
    assert [(a, t) for a, t, _ in articles] == [("p1", "Parquet article one."),
                                                ("p3", "Parquet article three.")]
    assert sorted((Path(r.file).name, r.line) for r in rejected) == [("batch.parquet", 2),
                                                                     ("corrupt.parquet", 0)]


def test_read_articles_folder_is_recursive_sorted_and_filtered(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("Two.", encoding="utf-8")
    (tmp_path / "one.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not an article", encoding="utf-8")
    write_jsonl(tmp_path / "a.jsonl", [{"id": "j1", "text": "Jsonl one."}])
    ids = [a for a, _, _ in read_articles(tmp_path)]
    assert ids == ["j1", "b/two", "one"]  # a.jsonl, b/two.txt, one.txt


def test_article_ids_are_unique_across_sub_folders(tmp_path):
    for folder in ("2024-11-06", "2024-11-07"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "index.txt").write_text(f"Story of {folder}.", encoding="utf-8")
    ids = [a for a, _, _ in read_articles(tmp_path)]
    assert len(ids) == 2
    assert len(set(ids)) == 2


def test_read_articles_unsupported_file_and_missing_path(tmp_path):
    odd = tmp_path / "page.docx"
    odd.write_text("x")
    rejected = []
    assert list(read_articles(odd, rejected=rejected)) == []
    assert [(r.file, r.line) for r in rejected] == [(str(odd), 0)]
    with pytest.raises(FileNotFoundError):
        list(read_articles(tmp_path / "nowhere"))


# ---- writers -----------------------------------------------------------------------------------

def test_write_parquet_atomic_leaves_no_temp_file(tmp_path):
    out = tmp_path / "out" / "predictions.parquet"
    frame = pd.DataFrame({"segment_id": ["a-p000", "a-p001"], "topics": [["sanctions"], []],
                          "stance_score": [0.9, 0.4]})
    assert write_parquet_atomic(frame, out) == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["predictions.parquet"]
    back = pd.read_parquet(out)
    assert back["segment_id"].tolist() == ["a-p000", "a-p001"]
    assert [list(t) for t in back["topics"]] == [["sanctions"], []]

    # Overwriting replaces the file whole, still with nothing left beside it.
    write_parquet_atomic(frame.iloc[:1], out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["predictions.parquet"]
    assert len(pd.read_parquet(out)) == 1


def test_write_rejected_round_trips(tmp_path, taxonomy):
    path = write_jsonl(tmp_path / "in.jsonl", ["{bad", record(taxonomy, 0)])
    _, rejected = read_labeled([path], taxonomy)
    out = write_rejected(rejected, tmp_path / "out" / "rejected.jsonl")
    assert sorted(p.name for p in out.parent.iterdir()) == ["rejected.jsonl"]
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"file": str(path), "line": 1, "reason": rejected[0].reason, "raw": "{bad"}]
