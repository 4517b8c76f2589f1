"""What analysts see: article rollups, report.html in a real browser, drift, the labeling loop
(queue out, corrections in, retrain), and a zero-shot start for a new taxonomy.

A real sqlite MLflow store and models trained on the tiny corpus, real `topicstance-*`
processes, and Debian's chromium driven by Playwright for the report.
"""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    RAW_DIR,
    SEEDS_FILE,
    clean_subprocess_env,
    labeled_override,
    new_store,
    read_jsonl,
    tiny_corpus,
    write_jsonl,
)
from topicstance import drift, quality
from topicstance.outputs import Output, read_articles, read_segments
from topicstance.pipelines.predict import predict
from topicstance.pipelines.train import train
from topicstance.pipelines.validate_data import validate_data

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"   # gitignored: the report's screenshot


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_labeled_file):
    s = new_store(tmp_path_factory.mktemp("analyst"), tiny_labeled_file)
    # The drift tests compare runs with the model's dev distribution: a fifth of the tiny
    # corpus, as a tenth (the default) leaves too few dev segments for a steady reference.
    s.train("data.dev_fraction=0.2")
    return s


@pytest.fixture(scope="module")
def seeds_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seed_pages")
    for page in sorted(RAW_DIR.glob("*.txt")):
        shutil.copy(page, folder / page.name)
    return folder


@pytest.fixture(scope="module")
def output(store, seeds_dir, tmp_path_factory) -> Path:
    """The seed pages on one run date, then one more page on the next (a trend to draw)."""
    out = tmp_path_factory.mktemp("analyst_out") / "out"
    predict(store.make("predict", [f"input='{seeds_dir}'", f"output='{out}'",
                                   "run_date=2024-11-07",
                                   "drift.min_articles=5"]))  # the five pages stand for a day
    later = tmp_path_factory.mktemp("later")
    (later / "budget.txt").write_text(
        "Parliament passes the budget\n\nLawmakers in Poland voted narrowly on the budget as "
        "the opposition party demanded an early election.\n\nThe European Union adopted a new "
        "sanctions package that freezes the assets of Sovcomflot.\n", encoding="utf-8")
    predict(store.make("predict", [f"input='{later}'", f"output='{out}'",
                                   "run_date=2024-11-08"]))
    return out


def cli(name: str, *args, check_rc=None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / name), *args], env=clean_subprocess_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    if check_rc is not None:
        assert result.returncode == check_rc, result.stderr[-3000:]
    return result


# ---- article rollups -------------------------------------------------------------------------

def test_every_article_gets_one_rollup_row_that_agrees_with_its_segments(output):
    segments, articles = read_segments(output), read_articles(output)
    assert articles["article_id"].is_unique
    assert set(articles["article_id"]) == set(segments["article_id"])
    assert sorted(set(articles["run_date"].astype(str))) == ["2024-11-07", "2024-11-08"]
    by_article = segments.sort_values("start").groupby("article_id")
    for _, row in articles.iterrows():
        segs = by_article.get_group(row["article_id"])
        assert row["segments"] == len(segs)
        assert row["title"] == segs["text"].iloc[0]
        for stance in ("pro_ukraine", "pro_russia", "neutral"):
            assert row[f"share_{stance}"] == pytest.approx((segs["stance"] == stance).mean())
            top = row[f"top_{stance}_segment"]
            if top is None:
                assert not (segs["stance"] == stance).any()
            else:
                chosen = segs.set_index("segment_id").loc[top]
                assert chosen["stance"] == stance
                assert chosen[f"prob_{stance}"] == segs.loc[segs["stance"] == stance,
                                                            f"prob_{stance}"].max()
        shares = {t: row[f"share_{t}"] for t in ("sanctions", "troop_deployment",
                                                 "espionage_trial", "domestic_politics")}
        for t, share in shares.items():
            assert share == pytest.approx(np.mean([t in listed for listed in segs["topics"]]))
        assert row["share_other"] == pytest.approx(np.mean([len(x) == 0 for x in segs["topics"]]))
        assert set(row["topics"]) == {t for t, share in shares.items() if share >= 0.25}
        assert row["stance"] in ("pro_ukraine", "pro_russia", "neutral")
        assert 0 < row["stance_confidence"] <= 1


def test_article_rows_follow_a_changed_page_exactly_once(store, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    page = (RAW_DIR / "004_a046d0169c019238.txt").read_text(encoding="utf-8")
    (inp / "page.txt").write_text(page, encoding="utf-8")
    first = predict(store.make("predict", [f"input='{inp}'", f"output='{out}'"]))
    (inp / "page.txt").write_text(page + "\nThe ministry will publish the list on Friday.\n",
                                  encoding="utf-8")
    second = predict(store.make("predict", [f"input='{inp}'", f"output='{out}'"]))
    articles = read_articles(out)
    assert articles["article_id"].tolist() == ["page"]
    assert articles["run_id"].tolist() == [second["run_id"]] != [first["run_id"]]
    assert articles["segments"].tolist() == [len(read_segments(out))]


def test_an_article_part_without_its_segment_part_is_never_read_and_is_removed(output, tmp_path):
    """What a kill between the two renames leaves: readers skip it, the next run removes it."""
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    before = read_articles(copy)
    part = next((copy / "articles").glob("run_date=*/part-*.parquet"))
    orphan = part.with_name(part.name.replace("-00000.", "-00001."))
    shutil.copy(part, orphan)
    assert len(read_articles(copy)) == len(before)
    assert Output(copy).recover()["temporary_files_removed"] == 1 and not orphan.exists()


# ---- the report, in a browser ----------------------------------------------------------------

def test_report_renders_in_chromium_with_counts_that_match_the_output(output, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is missing (`make browser` installs it with "
                    "apt; it needs root or passwordless sudo)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    report = output / "report.html"
    assert report.exists(), "predict writes the report by default (batch_report.enabled)"
    report.unlink()
    cli("topicstance-report", f"output='{output}'", f"paths.experiments='{tmp_path}'",
        check_rc=0)
    segments, articles = read_segments(output), read_articles(output)

    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        for chart in ("#heatmap", "#stance-bars", "#trend"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, (chart, box)
        cells = page.locator("#heatmap rect.cell")
        assert cells.count() == 5 * 3
        assert all(cells.nth(i).bounding_box()["width"] > 0 for i in range(cells.count()))
        counted = {(cells.nth(i).get_attribute("data-topic"),
                    cells.nth(i).get_attribute("data-stance")):
                   int(cells.nth(i).get_attribute("data-count")) for i in range(cells.count())}
        assert page.locator("#stance-bars rect.bar").count() >= 3
        assert page.locator("#trend polyline.series").count() == 5
        shown = {name: int(page.locator(f"#count-{name}").inner_text().replace(",", ""))
                 for name in ("segments", "articles", "run-dates", "runs")}
        drift_text = page.locator("#drift-status").inner_text()
        models = page.locator("#models").inner_text()
        examples = page.locator("h3 + table tr td:first-child").all_inner_texts()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        page.emulate_media(media="print")
        page.pdf(path=str(tmp_path / "report.pdf"))  # printable: renders to PDF without error
        browser.close()

    assert not errors, errors
    assert all(url.startswith("file://") for url in requests), requests  # nothing fetched
    assert shown == {"segments": len(segments), "articles": len(articles), "run-dates": 2,
                     "runs": 2}
    for stance in ("pro_ukraine", "pro_russia", "neutral"):
        for topic in ("sanctions", "troop_deployment", "espionage_trial", "domestic_politics"):
            truth = sum((topic in t) and s == stance
                        for t, s in zip(segments["topics"], segments["stance"]))
            assert counted[(topic, stance)] == truth
        other = sum(len(t) == 0 and s == stance
                    for t, s in zip(segments["topics"], segments["stance"]))
        assert counted[("other", stance)] == other
    assert "models:/topicstance/1" in models
    # The most confident segments are shown with their own text (read for them alone).
    texts = set(segments["text"])
    assert examples and all(e and any(t.startswith(e.rstrip("…")) for t in texts) for e in examples)
    assert drift_text.startswith(("DRIFT", "No drift", "Latest run"))
    assert (tmp_path / "report.pdf").stat().st_size > 10_000


def test_report_of_a_folder_without_output_is_one_line(tmp_path):
    result = cli("topicstance-report", f"output='{tmp_path}'", f"paths.experiments='{tmp_path}'")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "holds no prediction output" in result.stderr.strip().splitlines()[-1]


# ---- drift -------------------------------------------------------------------------------------

def test_psi_is_zero_for_the_same_distribution_and_flags_a_shift():
    same = {"segments": 100, "topics": {"a": 50, "b": 50}, "stances": {"x": 70, "y": 30},
            "stance_score": [0] * 5 + [10] * 5, "top_topic_score": [10] * 10}
    assert drift.compare(same, same, 0.25, 10)["status"] == "ok"
    assert all(v == 0 for v in drift.compare(same, same, 0.25, 10)["psi"].values())
    shifted = {**same, "stances": {"x": 10, "y": 90}}
    result = drift.compare(same, shifted, 0.25, 10)
    assert result["status"] == "drift" and result["psi"]["stances"] > 0.25
    assert result["flags"] == [f"stances PSI {result['psi']['stances']:.2f} > 0.25"]
    assert drift.compare(same, {**shifted, "segments": 5}, 0.25, 10)["status"].startswith(
        "too few")
    assert drift.compare(None, same, 0.25, 10)["status"].startswith("no reference")
    one_page = {**shifted, "articles": 1}  # one long story is not a sample of the news
    assert drift.compare(same, one_page, 0.25, 10, 20)["status"] == (
        "too few articles (1 < min_articles=20)")
    assert drift.compare(same, {**one_page, "articles": 20}, 0.25, 10, 20)["status"] == "drift"


def test_a_run_unlike_the_training_data_is_flagged_in_its_record_and_in_mlflow(store, output):
    record = json.loads(min((output / "_runs").glob("*.json")).read_text())
    assert record["drift"]["reference_segments"] > 0  # the model carries its dev distribution
    # The tiny corpus's model on real pages: topics and scores far from its dev split's.
    assert record["drift"]["status"] == "drift" and record["drift"]["flags"]
    metrics = store.client.get_run(record["mlflow_run_id"]).data.metrics
    assert metrics["drift/flagged"] == 1.0
    assert metrics["drift/psi_topics"] == pytest.approx(record["drift"]["psi"]["topics"])


def test_a_run_like_the_training_data_is_not_flagged(store, tmp_path):
    rows = tiny_corpus(20, prefix="again")  # the same distribution the model was trained on
    inp = write_jsonl(tmp_path / "in" / "records.jsonl",
                      [{"id": r["id"], "text": r["text"]} for r in rows])
    record = predict(store.make("predict", [f"input='{inp}'", f"output='{tmp_path / 'out'}'",
                                            "drift.threshold=1.0"]))
    assert record["drift"]["status"] == "ok", record["drift"]
    assert record["drift"]["psi"]["stances"] < 0.1


# ---- the labeling loop -------------------------------------------------------------------------

def test_label_queue_picks_unsure_spread_segments_with_their_context(store, output, tmp_path):
    labeled = write_jsonl(tmp_path / "labeled.jsonl", read_jsonl(SEEDS_FILE)[:20])
    result = cli("topicstance-label-queue", f"output='{output}'", "n=30", "max_per_article=4",
                 f"paths.experiments='{tmp_path}'", labeled_override(labeled),
                 "data.heldout=[]", check_rc=0)
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    queue = read_jsonl(counts["jsonl"])
    assert Path(counts["csv"]).read_bytes().startswith(b"\xef\xbb\xbfid,")  # Excel reads UTF-8
    with open(counts["csv"], encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(queue) == counts["chosen"] == 30 and [r["id"] for r in table] == [
        r["id"] for r in queue]
    assert counts["already_labeled"] == 20  # the labeled texts are never queued
    seeds = {r["text"] for r in read_jsonl(labeled)}
    assert not seeds & {r["text"] for r in queue}
    per_article = {a: sum(r["article_id"] == a for r in queue) for a in {r["article_id"]
                                                                         for r in queue}}
    assert max(per_article.values()) <= 4 and len(per_article) >= 8
    assert len({(tuple(r["model_topics"])[:1], r["model_stance"]) for r in queue}) >= 3
    assert not quality.near_duplicates([r["text"] for r in queue], 0.85)
    # The least sure first: the queue's uncertainty is above that of the segments left out.
    assert np.median([r["uncertainty"] for r in queue]) > 0.5
    segments = read_segments(output).set_index("segment_id")
    for r in queue:
        seg = segments.loc[r["id"]]
        assert r["text"] == seg["text"] and (r["start"], r["end"]) == (seg["start"], seg["end"])
        assert r["source"] == "review" and set(r) >= {"headline", "before", "after"}
    assert any(r["before"] and r["after"] for r in queue)


def test_label_queue_refuses_a_size_that_is_not_a_count(output, tmp_path):
    for bad_n, code, message in (("abc", 2, "n=abc: n takes a whole number"),
                                 ("0", 1, "n (N=) must be a whole number of segments, 1 or more")):
        result = cli("topicstance-label-queue", f"output='{output}'", f"n={bad_n}",
                     f"paths.experiments='{tmp_path}'")
        assert result.returncode == code and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(
            f"topicstance-label-queue: error: {message}")


def test_corrected_rows_are_merged_bad_ones_named_and_the_next_training_uses_them(
        store, output, tmp_path):
    result = cli("topicstance-label-queue", f"output='{output}'", "n=12",
                 f"paths.experiments='{tmp_path}'", labeled_override(store.labeled),
                 "data.heldout=[]", check_rc=0)
    queue = read_jsonl(json.loads(result.stdout.strip().splitlines()[-1])["jsonl"])
    corrected = [{**r, "topics": ["sanctions"], "stance": "pro_ukraine"} for r in queue[:8]]
    tiny_text = read_jsonl(store.labeled)[0]["text"]
    bad = [
        {**queue[8], "topics": ["weather"]},                  # line 9: unknown topic
        {**queue[9], "stance": "angry"},                      # line 10: unknown stance
        {**queue[10], "text": tiny_text},                     # line 11: already labeled
        "{not json",                                          # line 12
        {k: v for k, v in queue[11].items() if k != "text"},  # line 13: no text
        {**corrected[0]},                                     # line 14: repeats line 1
        {**corrected[1], "id": "near-p000", "text": tiny_text + " So it goes."},  # 15: near-dup
    ]
    annotated = write_jsonl(tmp_path / "annotated.jsonl", [*corrected, *bad])
    review = tmp_path / "data" / "review.jsonl"
    imported = cli("topicstance-import-labels", f"file='{annotated}'", f"target='{review}'",
                   f"paths.experiments='{tmp_path}'", labeled_override(store.labeled),
                   "data.heldout=[]")
    assert imported.returncode == 3, imported.stderr[-2000:]
    refused = [line for line in imported.stderr.splitlines() if line.startswith("refused")]
    lines = {int(line.split(f"{annotated}:")[1].split(":")[0]) for line in refused}
    assert lines == {9, 10, 11, 12, 13, 14, 15}
    assert "already labeled at" in imported.stderr and "unknown topic" in imported.stderr
    assert f"{annotated}:15: near-duplicate of {store.labeled}:1 (similarity" in imported.stderr
    merged = read_jsonl(review)
    assert [r["id"] for r in merged] == [r["id"] for r in corrected]
    assert all(r["source"] == "review" and r["topics"] == ["sanctions"] for r in merged)
    assert set(merged[0]) == {"id", "article_id", "text", "topics", "stance", "source"}

    again = cli("topicstance-import-labels", f"file='{annotated}'", f"target='{review}'",
                f"paths.experiments='{tmp_path}'", labeled_override(store.labeled),
                "data.heldout=[]")
    assert again.returncode == 3 and "merged 0 row(s)" in again.stdout  # nothing twice
    assert len(read_jsonl(review)) == 8

    # validate-data counts them; the next training reads them.
    problems, counts = validate_data(store.make("validate_data", [
        labeled_override(store.labeled, review), "data.heldout=[]"]))
    assert not problems and counts["review.jsonl"]["segments"] == 8
    assert counts["all"]["segments"] == 120 + 8
    metrics = store.train(labeled_override(store.labeled, review), "registry.promote=never")
    runs = store.client.search_runs(
        [store.client.get_experiment_by_name("topicstance").experiment_id],
        "tags.job = 'train'", order_by=["attributes.start_time DESC"], max_results=1)
    params = runs[0].data.params
    assert int(params["n_train"]) + int(params["n_dev"]) == 128 and metrics


@pytest.mark.parametrize("encoding, separator", [
    ("utf-8", ","),       # as the queue is written
    ("utf-8-sig", ","),   # Excel's "CSV UTF-8": a byte-order mark before the header
    ("cp1252", ","),      # Excel's plain "CSV" on Windows
    ("utf-8-sig", ";"),   # Excel where the decimal mark is a comma: semicolons
])
def test_a_csv_queue_edited_in_a_spreadsheet_imports_too(store, tmp_path, encoding, separator):
    rows = [{"id": "sheet-a-p000", "article_id": "sheet-a",
             "text": "A new text about tariffs on the caf\u00e9 owners\u2019 coffee.",
             "topics": "sanctions;domestic_politics", "stance": "neutral", "source": "review"},
            {"id": "sheet-a-p001", "article_id": "sheet-a", "text": "Another one.",
             "topics": "", "stance": "sideways", "source": "review"}]
    table = tmp_path / "edited.csv"
    with table.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=separator)
        writer.writeheader()
        writer.writerows(rows)
    review = tmp_path / "review.jsonl"
    result = cli("topicstance-import-labels", f"file='{table}'", f"target='{review}'",
                 f"paths.experiments='{tmp_path}'", labeled_override(store.labeled),
                 "data.heldout=[]")
    assert result.returncode == 3
    assert f"refused {table}:3: unknown stance 'sideways'" in result.stderr
    (imported,) = read_jsonl(review)
    assert imported["topics"] == ["sanctions", "domestic_politics"]
    assert imported["id"] == "sheet-a-p000" and imported["text"] == rows[0]["text"]


# ---- zero-shot start for a new taxonomy -------------------------------------------------------

def test_zero_shot_on_a_new_taxonomy_predicts_and_queues_with_no_labeled_data(
        store, seeds_dir, tmp_path):
    train(store.make("train", ["labels=news_desk", "model=zeroshot", "data=unlabeled",
                               "tracking.registered_model=news_desk"]))
    version = store.client.get_model_version_by_alias("news_desk", "champion")
    assert str(version.version) == "1"
    assert str(store.client.get_model_version_by_alias("topicstance", "champion").version) == "1"
    out = tmp_path / "out"
    record = predict(store.make("predict", [f"input='{seeds_dir}'", f"output='{out}'",
                                            "model_uri=models:/news_desk@champion"]))
    assert record["taxonomy"]["name"] == "news_desk_v1" and record["segments"] == 195
    assert record["drift"]["status"].startswith("no reference")
    segments = read_segments(out)
    topics = {"elections", "courts", "economy", "military"}
    assert {c[len("score_"):] for c in segments.columns if c.startswith("score_")} == topics
    assert set(segments["stance"]) <= {"supportive", "critical", "neutral"}
    assert {t for listed in segments["topics"] for t in listed} <= topics
    assert segments["topics"].map(len).sum() > 0
    soldiers = segments[segments["text"].str.contains("troops|soldiers")]
    assert soldiers["score_military"].mean() > segments["score_military"].mean()
    assert (out / "report.html").exists()
    result = cli("topicstance-label-queue", f"output='{out}'", "n=10",
                 f"paths.experiments='{tmp_path}'", "data=unlabeled", check_rc=0)
    queue = read_jsonl(json.loads(result.stdout.strip().splitlines()[-1])["jsonl"])
    assert len(queue) == 10 and all(r["stance"] in {"supportive", "critical", "neutral"}
                                    for r in queue)
