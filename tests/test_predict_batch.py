"""The scheduled prediction job: incremental, exactly-once after kills, honest about junk.

Real files, a real sqlite MLflow store, a real registered model, and real `topicstance-predict`
processes (killed with SIGKILL, run side by side) for what only a process can show.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import RAW_DIR, SEEDS_FILE, clean_subprocess_env, new_store, read_jsonl, write_jsonl
from topicstance.outputs import read_articles, read_segments
from topicstance.pipelines.predict import PredictError, predict

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
PAGE = (RAW_DIR / "004_a046d0169c019238.txt").read_text(encoding="utf-8")
ADDED = ("The page was updated later in the day with a new paragraph, in which the ministry "
         "said it would publish the full list of measures on Friday.")


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    s = new_store(tmp_path_factory.mktemp("batch"), tiny_labeled_file)
    s.train()
    return s


def run_predict(store, inp, out, *overrides):
    return predict(store.make("predict", [f"input='{inp}'", f"output='{out}'", *overrides]))


def cli(store, inp, out, *overrides, env=None, wait=True, timeout=240):
    """`topicstance-predict` as a real process against the store."""
    args = [str(BIN / "topicstance-predict"), f"input='{inp}'", f"output='{out}'",
            f"paths.experiments='{store.experiments}'", f"tracking.uri='{store.uri}'", *overrides]
    env = {**clean_subprocess_env(), **(env or {})}
    if not wait:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def parts(out: Path) -> list[Path]:
    return sorted((out / "segments").glob("run_date=*/part-*.parquet"))


def assert_exactly_once(out: Path, expected_articles: set[str]):
    frame = read_segments(out)
    assert frame["segment_id"].is_unique, frame["segment_id"][frame["segment_id"].duplicated()]
    assert set(frame["article_id"]) == expected_articles
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    articles = read_articles(out)  # one article row per article, from the same run as its rows
    assert articles["article_id"].is_unique if len(articles) else True
    assert set(articles["article_id"]) == expected_articles
    if len(articles):
        runs = frame.groupby("article_id")["run_id"].first()
        assert (articles.set_index("article_id")["run_id"] == runs[articles["article_id"]]).all()
        sizes = frame.groupby("article_id").size()
        assert (articles.set_index("article_id")["segments"] == sizes[articles["article_id"]]).all()
    return frame


def copy_pages(dest: Path, copies: int) -> set[str]:
    """The seed pages `copies` times in nested day folders; returns the page article ids."""
    ids = set()
    for n in range(copies):
        for page in sorted(RAW_DIR.glob("*.txt")):
            target = dest / f"day{n:03d}" / page.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(page, target)
            ids.add(f"day{n:03d}/{page.stem}")
    return ids


def article_ids_of_seeds(prefix: str = "") -> set[str]:
    return {prefix + r["article_id"] for r in read_jsonl(SEEDS_FILE)}


# ---- incremental runs ------------------------------------------------------------------------

def test_first_run_writes_partitioned_parts_and_a_run_record(store, tmp_path, seeds_dir):
    out = tmp_path / "out"
    record = run_predict(store, seeds_dir, out)
    today = date.today().isoformat()
    assert [p.parent.name for p in parts(out)] == [f"run_date={today}"]
    frame = assert_exactly_once(out, article_ids_of_seeds())
    seeds = read_jsonl(SEEDS_FILE)
    assert frame["segment_id"].tolist() == [r["id"] for r in seeds]
    assert frame["text"].tolist() == [r["text"] for r in seeds]
    assert (frame["model_uri"] == "models:/topicstance/1").all()  # the version, not the alias
    assert record["status"] == "finished" and record["articles_new"] == 5
    assert record["segments"] == len(frame) == 195 and record["quarantined"] == 0
    saved = json.loads((out / "_runs" / f"{record['run_id']}.json").read_text())
    assert saved == record
    run = store.client.get_run(record["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["segments"] == 195
    assert run.data.params["model_uri"] == "models:/topicstance/1"


def test_rerun_over_unchanged_input_does_no_work(store, tmp_path, caplog, seeds_dir):
    out = tmp_path / "out"
    run_predict(store, seeds_dir, out)
    before = {p: p.stat().st_mtime_ns for p in parts(out)}
    with caplog.at_level("INFO"):
        record = run_predict(store, seeds_dir, out)
    assert record["files_unchanged"] == 5 and record["segments"] == 0 and record["parts"] == 0
    assert record["articles_unchanged"] == 5 and "inference" not in record  # no model loaded
    assert {p: p.stat().st_mtime_ns for p in parts(out)} == before
    assert any("nothing new" in m and "no model work" in m for m in caplog.messages)


def test_a_run_with_another_model_names_the_articles_older_versions_labeled(
        store, tmp_path, caplog, seeds_dir):
    out = tmp_path / "out"
    run_predict(store, seeds_dir, out)  # the champion, version 1
    articles = read_segments(out)["article_id"].nunique()  # 5 pages, their glued-on articles
    store.train("registry.promote=never", "model.C=1")  # version 2: a new model, not promoted
    with caplog.at_level("WARNING"):
        record = run_predict(store, seeds_dir, out, "model_uri=models:/topicstance/2")
    assert record["segments"] == 0  # unchanged pages keep their rows, labeled by version 1
    assert record["articles_by_other_models"] == {"models:/topicstance/1": articles}
    assert any(f"{articles} articles" in m and f"models:/topicstance/1: {articles}" in m
               and "reprocess=true" in m for m in caplog.messages)
    again = run_predict(store, seeds_dir, out, "model_uri=models:/topicstance/2",
                        "reprocess=true")
    assert again["segments"] == 195 and "articles_by_other_models" not in again
    champion = run_predict(store, seeds_dir, out)  # back to version 1, nothing new to label
    assert champion["articles_by_other_models"] == {"models:/topicstance/2": articles}


def test_changed_page_replaces_its_rows_and_keeps_its_id(store, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "page.txt").write_text(PAGE, encoding="utf-8")
    (inp / "other.txt").write_text("Parliament passed the budget on Tuesday.\n", encoding="utf-8")
    run_predict(store, inp, out)
    first = read_segments(out)
    (inp / "page.txt").write_text(PAGE.rstrip() + f"\n{ADDED}\n", encoding="utf-8")
    record = run_predict(store, inp, out)
    assert record["articles_changed"] == 1 and record["articles_unchanged"] == 1
    frame = assert_exactly_once(out, {"page", "other"})
    assert len(frame) == len(first) + 1
    assert ADDED in set(frame["text"])
    assert frame.groupby("article_id")["run_id"].nunique().max() == 1  # one run's rows per page


def test_segment_records_of_one_article_are_read_as_that_article(store, tmp_path, seeds_dir):
    """The seed pages' segments given as records naming their `article_id`: each article comes
    back whole, every record a segment, with what the pages themselves get (same context)."""
    pages = read_segments(run_predict(store, seeds_dir, tmp_path / "pages")["output"])
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    seeds = read_jsonl(SEEDS_FILE)
    records = [{"id": r["id"], "article_id": r["article_id"], "text": r["text"]} for r in seeds]
    write_jsonl(inp / "segments.jsonl", records)
    record = run_predict(store, inp, out)
    articles = article_ids_of_seeds()  # the pages' own articles and those glued under them
    assert record["articles_new"] == len(articles) == 11 and record["segments"] == 195
    frame = assert_exactly_once(out, article_ids_of_seeds())
    columns = ["article_id", "segment_id", "text", "topics", "stance"]
    assert frame[columns].astype(str).equals(pages[columns].astype(str))

    # One record changed: its whole article is read again, the others are left alone.
    records[3]["text"] += " The ministry later confirmed the figures."
    write_jsonl(inp / "segments.jsonl", records)
    again = run_predict(store, inp, out)
    changed = seeds[3]["article_id"]
    assert again["articles_changed"] == 1 and again["articles_unchanged"] == 10
    assert again["rows_superseded"] == sum(r["article_id"] == changed for r in seeds)
    frame = assert_exactly_once(out, article_ids_of_seeds())
    assert records[3]["text"] in set(frame["text"])


def test_reprocess_replaces_rather_than_duplicates(store, tmp_path, seeds_dir):
    out = tmp_path / "out"
    first = run_predict(store, seeds_dir, out)
    second = run_predict(store, seeds_dir, out, "reprocess=true")
    assert second["articles_changed"] == 5 and second["rows_superseded"] == 195
    frame = assert_exactly_once(out, article_ids_of_seeds())
    assert len(frame) == 195 and set(frame["run_id"]) == {second["run_id"]} != {first["run_id"]}


def test_same_file_name_in_two_day_folders_never_collides(store, tmp_path):
    out = tmp_path / "out"
    for day in ("2024-11-07", "2024-11-08"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "index.txt").write_text(f"Story of {day} about the budget vote.\n",
                                                  encoding="utf-8")
        run_predict(store, tmp_path / day, out, f"run_date={day}")
    frame = read_segments(out)
    ids = dict(zip(frame["text"], frame["article_id"], strict=True))
    assert len(set(ids.values())) == 2 and ids["Story of 2024-11-07 about the budget vote."] == "index"
    assert sorted(set(frame["run_date"].astype(str))) == ["2024-11-07", "2024-11-08"]
    # Seen again (as part of the parent folder) a page keeps nothing new and its id stays.
    assert run_predict(store, tmp_path / "2024-11-08", out)["segments"] == 0
    assert set(read_segments(out)["article_id"]) == set(ids.values())


def test_every_part_has_the_same_schema_even_when_empty(store, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "empty.txt").write_bytes(b"")
    run_predict(store, inp, out)  # a batch with only quarantined input: an empty part
    (inp / "page.txt").write_text(PAGE, encoding="utf-8")
    run_predict(store, inp, out)
    schemas = [pq.read_schema(p).remove_metadata() for p in parts(out)]
    assert len(schemas) == 2 and pq.read_metadata(parts(out)[0]).num_rows == 0
    assert schemas[0] == schemas[1]


def test_parts_are_bounded_by_batch_segments(store, tmp_path, seeds_dir):
    out = tmp_path / "out"
    record = run_predict(store, seeds_dir, out, "batch_segments=50")
    assert record["parts"] == len(parts(out)) >= 4
    assert max(pq.read_metadata(p).num_rows for p in parts(out)) < 50 + 60  # a page at most over
    assert_exactly_once(out, article_ids_of_seeds())


def test_an_empty_input_folder_is_a_failure_not_a_quiet_day(store, tmp_path):
    """A scrape that delivered nothing must reach whoever watches the schedule (exit 1)."""
    (tmp_path / "in").mkdir()
    with pytest.raises(PredictError, match="holds no files; nothing to label"):
        run_predict(store, tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no output folder, no empty report


# ---- junk -----------------------------------------------------------------------------------

def make_junk(folder: Path) -> dict[str, str]:
    """Everything a scraper leaves, beside two good pages; returns {name: expected reason}."""
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "nested" / "deeper" / "good.txt").write_text(PAGE, encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Café owners in Kyiv say the élite fled.\n".encode("cp1252"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 80)
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 not an article")
    (folder / "huge.txt").write_text("x" * 30_000, encoding="utf-8")  # one 30k-char "line"
    (folder / "russian.txt").write_text(  # the models read English only
        "Москва ответила на санкции\n\n" + "Министерство иностранных дел России заявило, что "
        "новые санкции Евросоюза незаконны и будут иметь последствия для европейских компаний. "
        * 4, encoding="utf-8")
    write_jsonl(folder / "records.jsonl", [
        {"id": "r1", "text": "EU ministers agreed new sanctions on Russian banks."},
        "{broken json",
        {"id": "r3"},
        {"id": "r4", "text": "Estonia will send instructors to train Ukrainian troops."},
    ])
    (folder / "loop_a.txt").symlink_to("loop_b.txt")
    (folder / "loop_b.txt").symlink_to("loop_a.txt")
    (folder / "dangling.txt").symlink_to("missing.txt")
    (folder / "alias.txt").symlink_to(folder / "nested" / "deeper" / "good.txt")
    os.mkfifo(folder / "pipe.txt")
    return {"empty.txt": "empty file", "binary.txt": "binary file",
            "report.pdf": "unsupported file type '.pdf'", "huge.txt": "is not prose",
            "russian.txt": "not English",
            "records.jsonl:2": "not valid JSON", "records.jsonl:3": "missing or empty 'text'",
            "loop_a.txt": "broken symbolic link", "loop_b.txt": "broken symbolic link",
            "dangling.txt": "broken symbolic link", "pipe.txt": "not a regular file"}


def test_junk_is_quarantined_once_and_good_records_go_through(store, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    expected = make_junk(inp)
    record = run_predict(store, inp, out, "limits.max_line_chars=20000")
    frame = assert_exactly_once(out, {"nested/deeper/good", "alias", "latin1", "r1", "r4"})
    assert frame.loc[frame["article_id"] == "latin1", "text"].tolist() == [
        "Café owners in Kyiv say the élite fled."]  # cp1252 decoded, no mojibake
    quarantine = [q for p in sorted((out / "quarantine").glob("*.jsonl")) for q in read_jsonl(p)]
    got = {Path(q["file"]).name + (f":{q['line']}" if q["line"] else ""): q for q in quarantine}
    assert set(got) == set(expected)
    for name, reason in expected.items():
        assert reason in got[name]["reason"], (name, got[name]["reason"])
        assert len(got[name]["excerpt"]) <= 300
    assert got["records.jsonl:2"]["excerpt"].startswith("{broken json")
    assert record["quarantined"] == len(expected)

    again = run_predict(store, inp, out)  # nothing changed: nothing quarantined again
    assert again["quarantined"] == 0 and again["segments"] == 0
    (inp / "empty.txt").write_text("Now it holds a story about the parliament vote.\n")
    third = run_predict(store, inp, out)
    assert third["quarantined"] == 0 and third["articles_new"] == 1
    assert "empty" in set(read_segments(out)["article_id"])
    # quarantine/ holds what is set aside now: once each, and no longer the page fixed since
    fourth = run_predict(store, inp, out, "limits.max_line_chars=20000", "reprocess=true")
    assert fourth["quarantined"] == len(expected) - 1
    keys = [q["key"] for p in (out / "quarantine").glob("*.jsonl") for q in read_jsonl(p)]
    assert len(keys) == len(set(keys)) == len(expected) - 1
    assert "empty.txt" not in {Path(q["file"]).name for p in (out / "quarantine").glob("*.jsonl")
                               for q in read_jsonl(p)}


# ---- processes: exit codes, kills, locks, failing dependencies -------------------------------

def test_exit_codes_and_one_line_errors(store, tmp_path, seeds_dir):
    good = cli(store, seeds_dir, tmp_path / "ok")
    assert good.returncode == 0, good.stderr[-2000:]
    assert json.loads(good.stdout.strip().splitlines()[-1])["segments"] == 195

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "page.txt").write_text(PAGE, encoding="utf-8")
    (junk / "doc.pdf").write_bytes(b"%PDF-1.4")
    assert cli(store, junk, tmp_path / "q").returncode == 3  # done, something quarantined

    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        "missing input": (cli(store, tmp_path / "nowhere", tmp_path / "o1"), "input not found"),
        "empty input": (cli(store, empty, tmp_path / "o4"), "holds no files; nothing to label"),
        "read-only output": (cli(store, seeds_dir, "/sys/topicstance-out"), "cannot write to"),
        "output under a file": (cli(store, seeds_dir, tmp_path / "ok" / ".lock" / "o"),
                                "is a file, not a folder"),
        "full disk": (cli(store, seeds_dir, tmp_path / "o2", "min_free_mb=1e12"), "is full"),
        "no model": (cli(store, seeds_dir, tmp_path / "o3", "model_uri=models:/nothing@champion"),
                     "no model version holds"),
    }
    for name, (result, message) in cases.items():
        assert result.returncode == 1, (name, result.stderr[-2000:])
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("topicstance-predict: error:") and message in last, (name, last)
        assert "Traceback" not in result.stderr, name
    for folder in ("o1", "o2", "o3", "o4"):
        assert not (tmp_path / folder).exists(), f"{folder}: partial output left behind"


def test_unreachable_tracking_server_fails_fast(store, tmp_path, seeds_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.time()
    result = cli(store, seeds_dir, tmp_path / "out", f"tracking.uri='http://127.0.0.1:{port}'")
    assert result.returncode == 1 and time.time() - started < 60
    assert "is unreachable" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_a_second_concurrent_run_exits_at_once_touching_nothing(store, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    # Enough work (~15,000 segments) that the first run still holds the lock when the second,
    # which connects to the store before it looks, gets there, on a loaded CI machine too.
    ids = copy_pages(inp, 80)
    first = cli(store, inp, out, "batch_segments=100", wait=False)
    try:
        deadline = time.time() + 120
        while not ((out / ".lock").exists() and (out / ".lock").read_text().startswith("pid")):
            assert time.time() < deadline and first.poll() is None, first.stderr.read()[-2000:]
            time.sleep(0.05)
        started = time.time()
        second = cli(store, inp, out)
        assert time.time() - started < 20
        assert second.returncode == 75, second.stderr[-2000:]
        assert "being written by pid" in second.stderr.strip().splitlines()[-1]
    finally:
        first.wait(timeout=600)
    assert first.returncode == 0, first.stderr.read()[-2000:]
    records = [json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")]
    # the refused run left no record; the first run's (written once it has its model) is complete
    assert [r["status"] for r in records] == ["finished"]
    frame = assert_exactly_once(out, set(read_segments(out)["article_id"]))
    assert ids <= set(frame["article_id"])


def test_a_stale_lock_never_blocks(store, tmp_path, seeds_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text("pid 999999")  # left by a killed run: the file, not the lock
    (out / "segments" / "run_date=2024-01-01").mkdir(parents=True)
    (out / "segments" / "run_date=2024-01-01" / ".part-x.parquet.1.tmp").write_bytes(b"half")
    result = cli(store, seeds_dir, out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_exactly_once(out, article_ids_of_seeds())


def kill_when(proc, out: Path, point: str, timeout: float = 180) -> bool:
    """SIGKILL `proc` at `point`: 'early' (its run record is written: segmenting and inference
    of the first batch), 'mid' (after some parts), 'write' (while a part's temporary file
    exists). Returns whether a temporary file was present."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        tmp = list((out / "segments").glob("run_date=*/.*.tmp")) if point == "write" else []
        if (point == "early" and list(out.glob("_runs/*.json"))) or tmp or (
                point == "mid" and len(parts(out)) >= 3):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return bool(list(out.rglob("*.tmp")))
        time.sleep(0.0005 if point == "write" else 0.01)
    proc.wait()
    return False


@pytest.mark.parametrize("point", ["early", "mid", "write"])
def test_sigkill_then_rerun_gives_every_article_exactly_once(store, tmp_path, point):
    inp, out = tmp_path / "in", tmp_path / "out"
    copy_pages(inp, 20)
    killed = cli(store, inp, out, "batch_segments=40", wait=False)
    kill_when(killed, out, point)
    assert killed.returncode == -signal.SIGKILL, f"the run ended before the kill at {point}"
    committed = len(parts(out))
    rerun = cli(store, inp, out, "batch_segments=40")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    record = json.loads(rerun.stdout.strip().splitlines()[-1])
    reference = tmp_path / "reference"
    assert cli(store, inp, reference).returncode == 0
    expected = read_segments(reference)
    got = assert_exactly_once(out, set(expected["article_id"]))
    assert sorted(got["segment_id"]) == sorted(expected["segment_id"])
    assert record["articles_unchanged"] > 0 or committed == 0  # committed work was not redone
    runs = [json.loads(p.read_text()) for p in sorted((out / "_runs").glob("*.json"))]
    assert [r["status"] for r in runs] == ["interrupted", "finished"]
    killed_run = store.client.get_run(runs[0]["mlflow_run_id"])
    assert killed_run.info.status == "KILLED"
