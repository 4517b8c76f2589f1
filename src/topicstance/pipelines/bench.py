"""Inference speed and dev metrics of a registered model at each precision (fp32, bf16, int8).

Speed is measured on realistic news segments (60 to 80 words, taken from the labeled corpus);
the metrics on the dev split of the run that trained the model, so a precision's accuracy cost
is read straight off the table.
"""

import time

from omegaconf import DictConfig

from topicstance import corpus, metrics, tracking
from topicstance.labels import Taxonomy


def bench(cfg: DictConfig) -> list[dict]:
    taxonomy = Taxonomy.from_config(cfg.labels)
    rows, _ = corpus.load(cfg.data.labeled, taxonomy)
    tracking.configure(cfg.tracking)
    model_uri = tracking.resolve_model_uri(cfg.model_uri)
    model = tracking.load_model_object(model_uri)
    dev_articles = set(tracking.training_run_dict(model_uri, "split.json")["dev_articles"])
    dev = corpus.to_split(rows.filter(lambda r: r["article_id"] in dev_articles), taxonomy)
    lengths = [len(t.split()) for t in rows["text"]]
    news = [t for t, n in zip(rows["text"], lengths) if cfg.min_words <= n <= cfg.max_words]
    texts = (news * (cfg.n_segments // max(len(news), 1) + 1))[:cfg.n_segments]

    precisions = list(cfg.precisions) if hasattr(model, "set_precision") else ["n/a"]
    results = []
    for precision in precisions:
        if precision != "n/a":
            model.set_precision(precision)
        model.predict_scores(texts[:64])  # warm-up (and, for int8, quantization)
        started = time.perf_counter()
        model.predict_scores(texts)
        seconds = time.perf_counter() - started
        scores = metrics.compute_metrics(*metrics.paired(taxonomy, dev, model.predict_frame(dev.texts)))
        results.append({"model_uri": model_uri, "family": model.family, "precision": precision,
                        "segments": len(texts), "segments_per_second": round(len(texts) / seconds, 1),
                        "dev_topic_macro_f1": scores["topic_macro_f1"],
                        "dev_stance_macro_f1": scores["stance_macro_f1"]})
    return results
