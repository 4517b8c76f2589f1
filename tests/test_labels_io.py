"""The taxonomy built from conf/labels, the labeled-record reader and the article readers."""

import json
import os
import threading

import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import write_jsonl
from topicstance.config import CONF_DIR
from topicstance.io import read_labeled
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


def test_read_labeled_files_an_editor_saved_with_a_bom_or_in_windows_1252(taxonomy, tmp_path):
    records = [{**record(taxonomy, 0), "text": "Caf\u00e9 owners in Kyiv \u201cstayed\u201d."},
               record(taxonomy, 1)]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (tmp_path / "bom.jsonl").write_text(lines, encoding="utf-8-sig")  # Notepad, Excel
    (tmp_path / "legacy.jsonl").write_text(lines.replace('"art0', '"legacy0'),
                                           encoding="cp1252")  # other ids, same texts
    (tmp_path / "binary.jsonl").write_bytes(b"\x89PNG\r\n")
    rows, rejected = read_labeled(
        [tmp_path / "bom.jsonl", tmp_path / "legacy.jsonl", tmp_path / "binary.jsonl"], taxonomy)
    assert len(rows) == 4 and rows["text"][0] == rows["text"][2] == records[0]["text"]
    assert [(r.line, r.reason) for r in rejected] == [(0, "cannot read: binary file (PNG), not text")]


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
