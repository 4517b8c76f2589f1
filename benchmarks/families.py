"""Every model family trained (or loaded) once, then timed at each precision it supports with
its metrics beside the speed."""

import logging
import time

import numpy as np
from omegaconf import OmegaConf

from benchmarks.data import BenchData, subset
from topicstance import hardware, tracking
from topicstance.metrics import compute_metrics, paired
from topicstance.models import build_from_params
from topicstance.models.base import tune_thresholds
from topicstance.models.gate import RelevanceGate

log = logging.getLogger(__name__)


def train_all(cfg, model_cfgs: dict, data: BenchData) -> tuple[dict, list[dict]]:
    """{name: fitted model} and one training record per family, in `cfg.families` order.
    An ensemble reuses its members trained here (its training time is theirs plus its gate's)."""
    models, records = {}, []
    for name in cfg.families:
        params = OmegaConf.to_container(model_cfgs[name], resolve=True)
        params["threads"] = int(cfg.threads)
        if params["family"] == "ensemble":
            model, record = _ensemble(name, params, models, records, data)
        elif params["family"] == "minilm_finetune":
            model, record = _finetune(name, params, cfg, data)
        else:
            train = subset(data.train, cfg.train_segments, cfg.seed)
            model, record = _fit(name, params, data, train)
        models[name] = model
        records.append(record)
        log.info("trained %s in %.1f s", name, record["train_seconds"])
    return models, records


def _fit(name, params, data: BenchData, train, note=""):
    model = build_from_params(params, data.taxonomy)
    started = time.perf_counter()
    model.fit(train, data.scored["dev"])
    record = {"model": name, "family": model.family, "device": getattr(model, "device", "cpu"),
              "train_segments": len(train),
              "train_seconds": round(time.perf_counter() - started, 2), "note": note}
    if "int8_check" in model.params:
        record["int8_check"] = model.params["int8_check"]
    return model, record


def _finetune(name, params, cfg, data: BenchData):
    if cfg.finetune.model_uri:
        tracking.configure(cfg.tracking)
        model = tracking.load_model_object(tracking.resolve_model_uri(cfg.finetune.model_uri))
        model.params["threads"] = int(cfg.threads)
        return model, {"model": name, "family": model.family, "train_segments": None,
                       "train_seconds": None, "note": f"loaded {cfg.finetune.model_uri}"}
    params["max_epochs"] = int(cfg.finetune.max_epochs)
    train = subset(data.train, cfg.finetune.train_segments, cfg.seed)
    note = (f"reduced for the bench: {len(train)} segments, {params['max_epochs']} epoch(s); "
            f"its metrics are below a full `make train ARGS=model={name}`")
    return _fit(name, params, data, train, note)


def _ensemble(name, params, models, records, data: BenchData):
    """The ensemble of members already trained here: only its gate and thresholds are fitted."""
    missing = [m for m in params["members"] if m not in models]
    if missing:
        raise ValueError(f"bench: {name} needs its members {missing} in `families` before it")
    model = build_from_params(params, data.taxonomy)
    model.members = {m: models[m] for m in params["members"]}
    started = time.perf_counter()
    if model.params.get("gate"):
        model.gate = RelevanceGate(data.taxonomy, dict(model.params["gate"])).fit(data.train)
    dev = data.scored["dev"]
    model.thresholds = tune_thresholds(
        model.scores(dev.texts, dev.contexts, dev.article_ids)[0], dev.topics)
    own = time.perf_counter() - started
    member_seconds = [r["train_seconds"] for r in records if r["model"] in params["members"]]
    seconds = None if None in member_seconds else round(sum(member_seconds) + own, 2)
    return model, {"model": name, "family": model.family, "train_segments": len(data.train),
                   "train_seconds": seconds,
                   "note": f"members {sorted(params['members'])} as trained above, plus its gate"}


def precisions_of(model, cfg) -> list[str]:
    """The precisions to time `model` at: one for a model without any; on a GPU not int8, which
    would run on the CPU (timed in a CPU run)."""
    if not hasattr(model, "set_precision"):
        return ["fp32"]
    on_gpu = model.inference_settings().get("device") == "cuda"
    return [p for p in cfg.precisions if not (on_gpu and p == "int8")]


def measure(model, data: BenchData, latency_batch: int | None, throughput_batch: int,
            throughput_seconds: float = 0.0, segments: int | None = None,
            min_passes: int = 1) -> dict:
    """Throughput of `predict_frame` (what the job calls) on the speed texts in calls of
    `throughput_batch` texts (the job's parts), and its latency per call of `latency_batch`
    (None: throughput only), each after a warm-up call (which also quantizes).

    Throughput is the best of as many passes over the texts as fit in `throughput_seconds`
    (at least `min_passes`): the least disturbed pass, as `timeit` reports, so that a fast
    model's 50 ms pass is not judged by a neighbour's burst on a shared machine. A slow model's
    pass of several seconds is disturbed too (the same settings measured 283-310 seg/s in one
    run), and the roofline's peak is a best of many: hence at least two in the full bench.
    `segments`: only the first that many speed texts."""
    window = slice(0, segments)
    texts, contexts, articles = (data.speed_texts[window], data.speed_contexts[window],
                                 data.speed_articles[window])

    def seconds_per_call(batch: int) -> list[float]:
        out = []
        for start in range(0, len(texts), batch):
            began = time.perf_counter()
            window = slice(start, start + batch)
            model.predict_frame(texts[window], contexts[window], articles[window])
            out.append(time.perf_counter() - began)
        return out

    model.predict_frame(texts[:throughput_batch], contexts[:throughput_batch],
                        articles[:throughput_batch])  # warm-up
    passes = [sum(seconds_per_call(throughput_batch))]
    while len(passes) < min_passes or sum(passes) < throughput_seconds:
        passes.append(sum(seconds_per_call(throughput_batch)))
    throughput = {"segments": len(texts), "batch": min(throughput_batch, len(texts)),
                  "segments_per_second": round(len(texts) / min(passes), 1),
                  "throughput_passes": len(passes)}
    if latency_batch is None:
        return throughput
    model.predict_frame(texts[:latency_batch], contexts[:latency_batch],
                        articles[:latency_batch])  # warm-up
    latencies = seconds_per_call(latency_batch)
    return {**throughput, "latency_batch": latency_batch,
            "latency_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 1),
            "latency_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 1)}


def metrics(model, data: BenchData) -> dict:
    """Topic and stance macro-F1 on every scored set: `<set>/topic_macro_f1`, ..."""
    out = {}
    for name, split in data.scored.items():
        predicted = model.predict_frame(split.texts, split.contexts, split.article_ids)
        scores = compute_metrics(*paired(data.taxonomy, split, predicted))
        out.update({f"{name}/{k}": round(scores[k], 4)
                    for k in ("topic_macro_f1", "stance_macro_f1", "mean_macro_f1")})
    return out


def inference_rows(cfg, models: dict, data: BenchData) -> list[dict]:
    rows = []
    for name, model in models.items():
        auto = _auto_choice(model)
        precisions = precisions_of(model, cfg)
        for precision in precisions:
            if hasattr(model, "set_precision"):
                model.set_precision(precision)
            device = model.inference_settings().get("device", "cpu")
            row = {"model": name, "family": model.family, "precision": precision,
                   "backend": "torch" if hasattr(model, "set_precision") else "scikit-learn",
                   "device": device, "auto_choice": precision == auto if auto else None}
            if hardware.emulated(precision, device):
                # PyTorch emulates bf16 on this CPU (several times slower than fp32): a short probe of
                # its speed, no metrics (the same numerics as on a CPU with bf16), so that the
                # row does not take most of the bench's time on a CPU that `auto` keeps off it.
                row.update(measure(model, data, int(cfg.latency_batch), int(cfg.latency_batch),
                                   segments=int(cfg.emulated_bf16_segments)), emulated=True)
            else:
                row.update(**measure(model, data, int(cfg.latency_batch),
                                     int(cfg.throughput_batch), float(cfg.throughput_seconds),
                                     min_passes=int(cfg.throughput_min_passes)),
                           **metrics(model, data))
            rows.append(row)
            log.info("%s %s: %.1f seg/s", name, precision, row["segments_per_second"])
        if hasattr(model, "set_precision"):
            model.set_precision("auto")
    return rows


def setting_speeds(model, data: BenchData, throughput_batch: int, rounds: int, setting: str,
                   choices: tuple) -> dict | None:
    """Segments/s of an encoder model at its `auto` precision with each value of one of its CPU
    inference settings (`cpu_attention`: PyTorch's fused `sdpa` kernel or the project's
    `lane_padded`; `cpu_linear`: `plain` nn.Linear or oneDNN's `fused`; `batch_size`: texts
    per forward pass), in alternating passes over the same texts, the best of each kept, so
    that a shared VM's drift falls on all alike. None where the inference copy is not on the
    CPU (a GPU), or for the linear layers at int8 (quantized layers of their own)."""
    chosen = _auto_choice(model)
    if (model.inference_settings()["device"] != "cpu"
            or (setting == "cpu_linear" and chosen == "int8")):
        return None
    configured, best = model.params.get(setting, choices[-1]), {}
    for _ in range(rounds):
        for choice in choices:
            model.params[setting] = choice
            model.set_precision(chosen)  # a fresh inference copy with this setting
            speed = measure(model, data, None, throughput_batch)["segments_per_second"]
            best[str(choice)] = max(best.get(str(choice), 0.0), speed)
    model.params[setting] = configured
    model.set_precision("auto")
    return {"precision": chosen, "rounds": rounds, "segments_per_second": best}


def _auto_choice(model) -> str | None:
    """The precision `auto` picks for this model on this CPU (None: the model has none)."""
    if not hasattr(model, "set_precision"):
        return None
    model.set_precision("auto")
    chosen = model.inference_settings().get("precision")
    return chosen


def tfidf_blocks(model, data: BenchData) -> dict:
    """Where a TF-IDF model's inference time goes: segments/s of each vectorizer block alone
    and of the heads, on the speed texts."""
    texts, contexts = data.speed_texts, data.speed_contexts
    blocks = [(name, lambda v=v: v.transform(texts)) for name, v in model.features.transformer_list]
    if model.context_features is not None:
        blocks.append(("context", lambda: model.context_features.transform(contexts)))
    x = model._x(texts, contexts)
    blocks.append(("heads", lambda: model._head_probabilities(x)))
    out = {}
    for name, run in blocks:
        run()  # warm-up
        began = time.perf_counter()
        run()
        out[name] = round(len(texts) / (time.perf_counter() - began), 1)
    return out


def train_student(cfg, finetune_params: dict, data: BenchData):
    """A smaller student: the fine-tuned family with only the pretrained encoder's first
    `cfg.student_layers` layers, trained on the same reduced budget as the full one here."""
    params = {**finetune_params, "encoder_layers": int(cfg.student_layers),
              "max_epochs": int(cfg.finetune.max_epochs), "threads": int(cfg.threads)}
    train = subset(data.train, cfg.finetune.train_segments, cfg.seed)
    name = f"minilm_finetune, first {cfg.student_layers} layers"
    return _fit(name, params, data, train, "the student, on the same reduced budget")
