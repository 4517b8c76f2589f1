"""Outlet-grouped cross-validation over the real coverage the model trains on.

The fixed coverage test part holds 78 articles, 51 `pro_ukraine` segments: a change of a point
there is noise. This job scores a model configuration on every training-part coverage segment
instead: the coverage rows are cut into `cv.folds` folds with no outlet on both sides (rows of no
known outlet are grouped by article); for each fold the model is trained as `make train` trains
it, on everything else (the seeds and the written corpus always included, an article-grouped dev
split taken from it), and predicts the fold's segments with their article (ids and context) and
each sent alone. The metrics are computed over all folds' predictions pooled, under `cv/` and
`cv/alone/`, with the off-topic rates on the articles not about the war; each fold's under
`cv/fold/` at step k. Nothing is registered: the run is for comparing configurations
(README, "Ablation"), one MLflow run per configuration, sweepable like training.
"""

import logging
import time

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from topicstance import corpus, coverage, metrics, tracking
from topicstance.io import DataError
from topicstance.labels import Taxonomy
from topicstance.models import build_model
from topicstance.models.article import grouped_folds
from topicstance.pipelines.train import OFFTOPIC_RATES, coverage_sources, training_split

log = logging.getLogger(__name__)


def cross_validate(cfg: DictConfig) -> dict[str, float]:
    """Returns the pooled metrics (`cv/...`, `cv/alone/...`) and the seconds it took."""
    taxonomy = Taxonomy.from_config(cfg.labels)
    tracking.configure(cfg.tracking)
    variant = cfg.get("variant") or cfg.model.family
    tags = {"model_family": cfg.model.family, "variant": variant}
    with tracking.run("cross_validate", cfg.get("run_name") or f"cv {variant}", tags):
        tracking.log_config(cfg)
        tracking.log_job_context(cfg.paths.root, taxonomy)
        rows, rejected = corpus.load(cfg.data.labeled, taxonomy)
        for r in rejected:
            log.warning("set aside %s", r)
        sources = coverage_sources(cfg.data)
        scored = np.flatnonzero(np.asarray(rows["source"]) == cfg.cv.source)
        if len(scored) == 0:
            raise DataError(f"no labeled segments with source {cfg.cv.source!r} in "
                             f"{list(cfg.data.labeled)}: nothing to cross-validate")
        article_ids = [rows["article_id"][i] for i in scored]
        folds = list(grouped_folds(article_ids, int(cfg.cv.folds),
                                   coverage.outlets(article_ids, sources)))
        started = time.perf_counter()
        held_out, with_article, alone = [], [], []
        for k, (_, held) in enumerate(folds):
            held_rows = scored[held]
            fold = _fit_and_predict(cfg, taxonomy, rows, held_rows)
            held_out.append(held_rows)
            with_article.append(fold[0])
            alone.append(fold[1])
            tracking.log_metrics({f"cv/fold/{name}": value for name, value in
                                  _scores(taxonomy, rows.select(held_rows), fold[0], sources,
                                          cfg).items()}, step=k)
            log.info("fold %d of %d: %d segments scored", k + 1, len(folds), len(held_rows))
        truth = rows.select(np.concatenate(held_out))
        results = {f"cv/{k}": v for k, v in
                   _scores(taxonomy, truth, pd.concat(with_article), sources, cfg).items()}
        results.update({f"cv/alone/{k}": v for k, v in
                        _scores(taxonomy, truth, pd.concat(alone), sources, cfg).items()
                        if k in metrics.ALONE_METRICS + OFFTOPIC_RATES})
        results["cv/seconds"] = round(time.perf_counter() - started, 1)
        tracking.log_params({"cv_segments": len(scored), "cv_articles": len(set(article_ids))})
        tracking.log_metrics(results)
        tracking.log_dict({f"fold_{k}": sorted({rows["article_id"][i] for i in held_rows})
                           for k, held_rows in enumerate(held_out)}, "cv_folds.json")
    return results


def _fit_and_predict(cfg: DictConfig, taxonomy: Taxonomy, rows, held_rows: np.ndarray):
    """Train on every row but `held_rows` as `make train` does; predict `held_rows` with their
    article and alone."""
    fit_rows = rows.select(np.setdiff1d(np.arange(len(rows)), held_rows))
    train_rows, dev_rows = corpus.split_by_article(fit_rows, cfg.data.dev_fraction, cfg.seed)
    model = build_model(cfg.model, taxonomy)
    model.fit(training_split(train_rows, taxonomy, cfg, cfg.model.get("gate")),
              corpus.to_split(dev_rows, taxonomy))
    held = corpus.to_split(rows.select(held_rows), taxonomy)
    return (model.predict_frame(held.texts, held.contexts, held.article_ids),
            model.predict_frame(held.texts))


def _scores(taxonomy: Taxonomy, truth_rows, predicted: pd.DataFrame, sources: dict,
            cfg: DictConfig) -> dict[str, float]:
    predicted = predicted.reset_index(drop=True)
    truth = corpus.to_split(truth_rows, taxonomy)
    scores = metrics.compute_metrics(*metrics.paired(taxonomy, truth, predicted))
    scores.update(coverage.offtopic_rates(truth_rows["article_id"], predicted["stance"],
                                          predicted["topics"], truth_rows["topics"], sources,
                                          cfg.labels.get("war_topics") or [],
                                          taxonomy.no_side))
    return scores
