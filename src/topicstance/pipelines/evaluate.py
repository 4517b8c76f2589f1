"""Score a registered model on a labeled file and log an evaluation run."""

import logging
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from topicstance import corpus, metrics, reports, tracking
from topicstance.io import DataError
from topicstance.labels import Taxonomy

log = logging.getLogger(__name__)


def evaluate_model(cfg: DictConfig) -> dict:
    """Returns `n` (the records scored), `n_rejected` (those set aside as invalid, each logged
    with its line and reason), the metrics (unprefixed; `alone/...`: each segment sent with no
    context and no article id), `model_uri` and `data_file`."""
    taxonomy = Taxonomy.from_config(cfg.labels)
    data_file = Path(cfg.data_file).expanduser().resolve()
    rows, rejected = corpus.load([data_file], taxonomy)
    if len(rows) == 0:  # one line, not one per line of what is likely the wrong file
        first = f": {rejected[0]}" if rejected else ""
        more = f" (and {len(rejected) - 1} more lines)" if len(rejected) > 1 else ""
        raise DataError(f"no valid labeled records in {data_file}{first}{more}")
    for r in rejected:
        log.warning("set aside %s", r)
    tracking.configure(cfg.tracking)
    model_uri = tracking.resolve_model_uri(cfg.model_uri)
    with tracking.run("evaluate", cfg.get("run_name"), {"model_uri": model_uri,
                                                        "data_file": str(data_file)}):
        tracking.log_config(cfg)
        tracking.log_job_context(cfg.paths.root, taxonomy)
        reports.log_labeled_data(rows, data_file.stem, [data_file], "evaluation")
        truth = corpus.to_split(rows, taxonomy)
        headlines, previous = corpus.headlines_and_previous(list(rows["article_id"]),
                                                            list(rows["text"]))
        model = tracking.load_pyfunc(model_uri)
        predicted = model.predict(pd.DataFrame(
            {"text": rows["text"], "headline": headlines, "previous": previous,
             "article_id": rows["article_id"]}))
        scores = metrics.compute_metrics(*metrics.paired(taxonomy, truth, predicted))
        # The same segments sent alone, as a caller of the served model may send them.
        alone = model.predict(pd.DataFrame({"text": rows["text"]}))
        alone_scores = metrics.compute_metrics(*metrics.paired(taxonomy, truth, alone))
        scores.update({f"alone/{k}": alone_scores[k] for k in metrics.ALONE_METRICS})
        tracking.log_metrics({"n": len(rows), "n_rejected": len(rejected), **scores},
                             prefix="eval/")
        reports.log_split_report("eval", taxonomy, truth, predicted, cfg.report.worst_segments)
        if rejected:
            tracking.log_dict([vars(r) for r in rejected], "rejected_labeled.json")
    return {"n": len(rows), "n_rejected": len(rejected), **scores, "model_uri": model_uri,
            "data_file": str(data_file)}
