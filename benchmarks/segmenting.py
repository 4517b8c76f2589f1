"""Segmenting alone, as the job does it (read and decode pages, split them into articles, cut
those into segments, `segment_pages` pages per call, after one warm-up call), on plain text and
on the same pages as HTML through trafilatura, and on plain text with the furniture patterns
alone (no learned detector)."""

import copy
import html
import time
from pathlib import Path

from topicstance.inputs import Limits, list_files, read_units
from topicstance.segment import Segmenter


def as_html(page: Path, folder: Path) -> Path:
    """The page as a news site would serve it: title, navigation, paragraphs, footer."""
    lines = [line.strip() for line in page.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    body = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    title = html.escape(lines[0]) if lines else ""
    document = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
                f"<body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
                f"<article><h1>{title}</h1>\n{body}\n</article>"
                f"<footer><p>Contact us. Terms of use. Privacy.</p></footer></body></html>")
    target = folder / f"{page.parent.name}-{page.stem}.html"
    target.write_text(document, encoding="utf-8")
    return target


def _pass(segmenter: Segmenter, files, pages_per_call: int) -> tuple[int, int, float]:
    """(articles, segments, seconds) of one pass over the pages, as the job reads them."""
    limits, pending = Limits(), []
    articles = segments = 0
    started = time.perf_counter()
    for file in files:
        pending += [(unit.article_id, unit.text, unit.key, unit.ready_cut)
                    for unit in read_units(file, limits)]
        if len(pending) >= pages_per_call or file is files[-1]:
            for page in segmenter.segment_pages(pending):
                articles += len(page)
                segments += sum(len(cut) for _, cut in page)
            pending = []
    return articles, segments, time.perf_counter() - started


def measure(inputs: dict[str, tuple[Segmenter, Path]], passes: int, pages_per_call: int) -> dict:
    """Each input's speed in the best of its `passes` passes (the least disturbed, as `timeit`
    reports). The inputs take turns pass by pass, so that one input's passes are spread over
    the whole measurement and a neighbour's burst of a few seconds on a shared machine cannot
    fall on all of them."""
    files = {name: list_files(folder) for name, (_, folder) in inputs.items()}
    for name, (segmenter, _) in inputs.items():
        # A warm-up call, as for every model row: what a process pays once (the detector's
        # first calls, character tables) is the job's start-up, timed in the end-to-end rows.
        _pass(segmenter, files[name][:pages_per_call], pages_per_call)
    runs = {name: [] for name in inputs}
    for _ in range(passes):
        for name, (segmenter, _) in inputs.items():
            runs[name].append(_pass(segmenter, files[name], pages_per_call))
    out = {}
    for name, results in runs.items():
        articles, segments, seconds = min(results, key=lambda r: r[2])
        size = sum(f.path.stat().st_size for f in files[name])
        out[name] = {"pages": len(files[name]), "articles": articles, "segments": segments,
                     "warmed_up": True, "best_of_passes": passes,
                     "megabytes": round(size / 2**20, 2), "seconds": round(seconds, 3),
                     "articles_per_second": round(articles / seconds, 1),
                     "pages_per_second": round(len(files[name]) / seconds, 1),
                     "mb_per_second": round(size / 2**20 / seconds, 2)}
    return out


def segmenting(segmenter: Segmenter, raw: Path, workdir: Path, passes: int,
               pages_per_call: int) -> dict:
    html_dir = workdir / "html"
    html_dir.mkdir(parents=True, exist_ok=True)
    for page in sorted(raw.rglob("*.txt")):
        as_html(page, html_dir)
    patterns_only = copy.copy(segmenter)
    patterns_only.furniture = None  # what the learned furniture detector costs
    return measure({"plain_text": (segmenter, raw), "html": (segmenter, html_dir),
                    "plain_text_patterns_only": (patterns_only, raw)}, passes, pages_per_call)
