"""Train a model on the labeled corpus, score it on an article-grouped dev split, log it all."""

import logging
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from topicstance import corpus, coverage, metrics, reports, tracking
from topicstance.io import DataError
from topicstance.labels import Taxonomy
from topicstance.models import build_model, model_class

log = logging.getLogger(__name__)
OFFTOPIC_RATES = ("offtopic_side_rate", "offtopic_war_topic_rate")


def training_split(train_rows, taxonomy: Taxonomy, cfg: DictConfig, gate=None
                   ) -> corpus.LabeledSplit:
    """The training split as a model's fit reads it: each text's printing outlet (from the
    coverage sources; the article stage's folds keep outlets apart) and, for a relevance gate
    (its `neutral_stance` and war `topics`), whether its article is about the war."""
    split = corpus.to_split(train_rows, taxonomy)
    sources = coverage_sources(cfg.data)
    split.outlets = coverage.outlets(train_rows["article_id"], sources)
    if gate:
        war_articles = {a: bool(r["war"]) for a, r in sources.items()}
        split.about_war = corpus.about_war(train_rows, war_articles, gate["neutral_stance"],
                                           gate["topics"])
    return split


def train(cfg: DictConfig) -> dict[str, float]:
    """Returns the dev metrics (names prefixed `dev/`). The MLflow run starts first, so a job
    that fails on its data is recorded too (FAILED, with the error)."""
    taxonomy = Taxonomy.from_config(cfg.labels)
    tracking.configure(cfg.tracking)
    variant = cfg.get("variant") or cfg.model.family
    tags = {"model_family": cfg.model.family, "variant": variant}
    with tracking.run("train", cfg.get("run_name") or variant, tags):
        tracking.log_config(cfg)
        tracking.log_job_context(cfg.paths.root, taxonomy)
        rows, rejected = corpus.load(cfg.data.labeled, taxonomy)
        for r in rejected:
            log.warning("set aside %s", r)
        if len(rows) == 0 and model_class(cfg.model.family).needs_labels:
            raise DataError(f"no valid labeled records in {list(cfg.data.labeled)}")
        train_rows, dev_rows = (corpus.split_by_article(rows, cfg.data.dev_fraction, cfg.seed)
                                if len(rows) else (rows, rows))  # a zero-shot start: no data
        gate = cfg.model.get("gate")
        train_split = training_split(train_rows, taxonomy, cfg, gate)
        dev_split = corpus.to_split(dev_rows, taxonomy)
        log.info("training %s on %d segments (%d articles), dev %d segments (%d articles)",
                 cfg.model.family, len(train_split), len(set(train_rows["article_id"])),
                 len(dev_split), len(set(dev_rows["article_id"])))
        if len(rows):
            reports.log_labeled_data(train_rows, "train", cfg.data.labeled, "training")
            reports.log_labeled_data(dev_rows, "dev", cfg.data.labeled, "validation")
        tracking.log_params({"n_train": len(train_split), "n_dev": len(dev_split),
                             "n_rejected": len(rejected)})
        model = build_model(cfg.model, taxonomy)
        started = time.perf_counter()
        model.fit(train_split, dev_split,
                  on_epoch=lambda m, step: tracking.log_metrics(m, step=step))
        train_seconds = time.perf_counter() - started

        results = {"train_seconds": round(train_seconds, 2)}
        if len(dev_split):  # none for a zero-shot start with no labeled data
            started = time.perf_counter()
            predicted = model.predict_frame(dev_split.texts, dev_split.contexts,
                                             dev_split.article_ids)
            predict_seconds = time.perf_counter() - started
            scores = metrics.compute_metrics(*metrics.paired(taxonomy, dev_split, predicted))
            results.update({f"dev/{k}": v for k, v in scores.items()})
            results["dev/segments_per_second"] = round(
                len(dev_split) / max(predict_seconds, 1e-9), 1)
            reports.log_split_report("dev", taxonomy, dev_split, predicted,
                                     cfg.report.worst_segments)
        sources = coverage_sources(cfg.data)
        for path in cfg.data.get("heldout") or []:
            scores, set_aside = _heldout_metrics(model, path, taxonomy, sources,
                                                 cfg.labels.get("war_topics") or [])
            results.update(scores)
            rejected += set_aside
        tracking.log_metrics(results)
        tracking.log_dict({"train_articles": sorted(set(train_rows["article_id"])),
                           "dev_articles": sorted(set(dev_rows["article_id"]))}, "split.json")
        tracking.log_dict({t: th for t, th in zip(taxonomy.topics, model.thresholds.tolist())},
                          "topic_thresholds.json")
        if model.lone_thresholds is not None:
            tracking.log_dict(dict(zip(taxonomy.topics, model.lone_thresholds.tolist())),
                              "lone_topic_thresholds.json")
        if rejected:
            tracking.log_dict([vars(r) for r in rejected], "rejected_labeled.json")

        model_uri = tracking.log_model(model, dev_split.texts[:5] or list(taxonomy.topics))
        same_rows = None
        if len(dev_split) and str(cfg.registry.metric).startswith("dev/"):
            same_rows = _on_unseen_dev_rows(dev_split, predicted, taxonomy,
                                            cfg.registry.metric.removeprefix("dev/"),
                                            int(cfg.registry.min_shared_dev_segments))
        registered = tracking.register(model_uri, cfg.tracking.registered_model,
                                       cfg.tracking.alias, cfg.registry.promote,
                                       cfg.registry.metric, results, taxonomy, same_rows)
    log.info("registered %s (%s alias %s: %s)", registered.uri,
             "moved" if registered.promoted else "kept", cfg.tracking.alias, registered.reason)
    return results


def _on_unseen_dev_rows(dev_split, predicted: pd.DataFrame, taxonomy: Taxonomy, metric: str,
                        min_segments: int):
    """For the registry's comparison with a champion trained on another split: a function of
    its run id and model uri that scores both models on this run's dev articles the champion
    did not train on (its `split.json`), as (this model's `metric`, the champion's, segments);
    None where fewer than `min_segments` such segments are left."""
    def compare(run_id: str, model_uri: str):
        split = tracking.load_run_dict(run_id, "split.json")
        if split is None:  # a run from before splits were logged
            return None
        seen = set(split["train_articles"])
        rows = [i for i, a in enumerate(dev_split.article_ids) if a not in seen]
        if len(rows) < min_segments:
            return None
        subset = corpus.LabeledSplit(
            texts=[dev_split.texts[i] for i in rows], topics=dev_split.topics[rows],
            stances=dev_split.stances[rows], contexts=[dev_split.contexts[i] for i in rows],
            article_ids=[dev_split.article_ids[i] for i in rows])
        try:
            champion = tracking.load_pyfunc(model_uri).predict(
                pd.DataFrame({"text": subset.texts, "article_id": subset.article_ids}))
        except Exception as e:  # noqa: BLE001 -- a champion that no longer loads here must not
            # fail the training run at its last step: compare the stored figures instead
            log.warning("could not score %s on this run's dev rows (%s); comparing the two "
                        "runs' own dev figures", model_uri, str(e).splitlines()[0][:200])
            return None
        ours = predicted.iloc[rows].reset_index(drop=True)
        return (metrics.compute_metrics(*metrics.paired(taxonomy, subset, ours))[metric],
                metrics.compute_metrics(*metrics.paired(taxonomy, subset, champion))[metric],
                len(rows))
    return compare


def coverage_sources(data_cfg) -> dict:
    """The coverage pages' provenance records by article id ({} when the data has none)."""
    path = data_cfg.get("coverage_sources")
    if not path or not Path(path).exists():
        return {}
    sources, problems = coverage.load_sources(Path(path))
    if problems:
        raise DataError(f"invalid coverage sources: {problems[0]}")
    return sources


def _heldout_metrics(model, path: str, taxonomy: Taxonomy, sources: dict,
                     war_topics) -> tuple[dict[str, float], list]:
    """Metrics on a labeled file kept out of training (real pages, coverage by unseen outlets),
    under `heldout/<file stem>/`, with the off-topic rates on its articles not about the war,
    and the file's invalid records, set aside. The file is logged as an `evaluation` dataset
    input."""
    rows, rejected = corpus.load([path], taxonomy)
    for r in rejected:
        log.warning("set aside %s", r)
    if len(rows) == 0:
        raise DataError(f"no valid held-out records in {path}"
                        + (f" ({rejected[0]})" if rejected else ""))
    reports.log_labeled_data(rows, Path(path).stem, [path], "evaluation")
    truth = corpus.to_split(rows, taxonomy)
    predicted = model.predict_frame(truth.texts, truth.contexts, truth.article_ids)
    scores = metrics.compute_metrics(*metrics.paired(taxonomy, truth, predicted))
    scores.update(coverage.offtopic_rates(rows["article_id"], predicted["stance"],
                                          predicted["topics"], rows["topics"], sources,
                                          war_topics, taxonomy.no_side))
    # The same segments sent alone (no context, no article id), as a caller of the served
    # model may send them.
    alone = model.predict_frame(truth.texts)
    alone_scores = metrics.compute_metrics(*metrics.paired(taxonomy, truth, alone))
    alone_scores.update(coverage.offtopic_rates(rows["article_id"], alone["stance"],
                                                alone["topics"], rows["topics"], sources,
                                                war_topics, taxonomy.no_side))
    scores.update({f"alone/{k}": alone_scores[k] for k in metrics.ALONE_METRICS + OFFTOPIC_RATES
                   if k in alone_scores})
    return {f"heldout/{Path(path).stem}/{k}": v for k, v in scores.items()}, rejected
