"""Segment raw pages and classify every segment with a registered model."""

import logging
from collections import Counter
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from topicstance import tracking
from topicstance.engines import build_engine
from topicstance.io import (
    Rejected,
    output_lock,
    read_articles,
    write_parquet_atomic,
    write_rejected,
)
from topicstance.segment import Segmenter

log = logging.getLogger(__name__)
SEGMENT_COLUMNS = ["article_id", "segment_id", "text", "start", "end", "source"]


def segments_table(input_path: Path, segmenter: Segmenter, cache_dir: Path,
                   rejected: list[Rejected]) -> pd.DataFrame:
    """One row per segment of every article under `input_path`; an article whose id was
    already seen is set aside in `rejected`."""
    rows, seen = [], {}
    for page_id, text, source in read_articles(input_path, cache_dir, rejected):
        if page_id in seen:
            rejected.append(Rejected(source, 0, f"duplicate article id {page_id!r} "
                                                f"(first in {seen[page_id]})"))
            continue
        seen[page_id] = source
        for article, segments in segmenter.segment_page(page_id, text, source):
            rows += [{"article_id": s.article_id, "segment_id": s.segment_id, "text": s.text,
                      "start": s.start, "end": s.end, "source": article.source} for s in segments]
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def predict(cfg: DictConfig) -> dict:
    """Writes `<output>/predictions.parquet` and `<output>/rejected.jsonl`; returns a summary."""
    input_path, output = Path(cfg.input).expanduser().resolve(), Path(cfg.output).expanduser().resolve()
    segmenter = Segmenter.from_config(cfg.segmenter)
    tracking.configure(cfg.tracking)
    model_uri = tracking.resolve_model_uri(cfg.model_uri)
    with output_lock(output), tracking.run("predict", cfg.get("run_name"), {"model_uri": model_uri}):
        tracking.log_config(cfg)
        rejected = []
        segments = segments_table(input_path, segmenter, Path(cfg.paths.cache), rejected)
        log.info("%d segments from %d articles under %s", len(segments),
                 segments["article_id"].nunique(), input_path)
        model = tracking.load_pyfunc(model_uri)
        predictions = build_engine(cfg.engine).run(segments, model.predict)
        predictions["model_uri"] = model_uri
        path = write_parquet_atomic(predictions, output / "predictions.parquet")
        write_rejected(rejected, output / "rejected.jsonl")  # empty when nothing was set aside
        for r in rejected:
            log.warning("set aside %s", r)
        summary = _summary(predictions, rejected, path)
        tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})
        tracking.log_dict(summary, "predict_summary.json")
    return summary


def _summary(predictions: pd.DataFrame, rejected: list, path: Path) -> dict:
    topic_counts = Counter(t for topics in predictions.get("topics", []) for t in topics)
    stance_counts = Counter(predictions.get("stance", []))
    summary = {
        "articles": int(predictions["article_id"].nunique()) if len(predictions) else 0,
        "segments": len(predictions),
        "rejected": len(rejected),
        "segments_without_topic": sum(1 for t in predictions.get("topics", []) if len(t) == 0),
    }
    summary.update({f"topic/{t}": n for t, n in sorted(topic_counts.items())})
    summary.update({f"stance/{s}": n for s, n in sorted(stance_counts.items())})
    summary["output"] = str(path)
    return summary
