"""One benchmark run: every measurement on the same texts, in one process, into one record."""

import logging
import os
import platform
import shutil
import socket
import time
from datetime import date
from pathlib import Path

import torch
from omegaconf import OmegaConf

from benchmarks import data as bench_data
from benchmarks import endtoend, families, naive, roofline, segmenting
from topicstance import hardware, tracking
from topicstance.segment import Segmenter

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def run(cfg, model_cfgs: dict) -> dict:
    started = time.perf_counter()
    torch.set_num_threads(int(cfg.threads))
    workdir = Path(cfg.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    result = {"schema": SCHEMA_VERSION, "profile": cfg.profile, "date": date.today().isoformat(),
              "host": socket.gethostname(),
              "machine": {**hardware.describe(), "threads": int(cfg.threads),
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                          "python": platform.python_version(), "torch": torch.__version__},
              "config": OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)}
    for key in ("paths", "labels", "data", "segmenter", "tracking", "hydra"):
        result["config"].pop(key, None)

    log.info("loading the labeled sets and training every family")
    gated = [model_cfgs[cfg.default_model], *model_cfgs.values()]  # the default's gate first
    data = bench_data.load(cfg, next((m.gate for m in gated if m.get("gate")), None))
    models, result["training"] = families.train_all(cfg, model_cfgs, data)
    finetuned_name = next((n for n, m in models.items() if m.family == "minilm_finetune"), None)
    finetuned = models.get(finetuned_name)

    log.info("naive baseline")
    if finetuned is not None:
        result["naive"] = naive.naive_baseline(finetuned, data.speed_texts[:int(cfg.naive_segments)],
                                               int(cfg.threads), int(cfg.naive_passes))
    log.info("inference of every family at every precision")
    result["inference"] = families.inference_rows(cfg, models, data)
    if "tfidf_linear" in models:
        result["tfidf_blocks"] = families.tfidf_blocks(models["tfidf_linear"], data)
    if finetuned is not None:
        log.info("a smaller student")
        student, record = families.train_student(
            cfg, OmegaConf.to_container(model_cfgs[finetuned_name], resolve=True), data)
        result["training"].append(record)
        result["student"] = {"model": record["model"],
                             "precision": student.inference_settings()["precision"],
                             "device": student.inference_settings()["device"],
                             **families.measure(student, data, int(cfg.latency_batch),
                                                   int(cfg.throughput_batch),
                                                   float(cfg.throughput_seconds),
                                                   min_passes=int(cfg.throughput_min_passes)),
                             **families.metrics(student, data)}
        result["roofline"] = roofline.roofline(finetuned, data.speed_texts,
                                               families.precisions_of(finetuned, cfg),
                                               float(cfg.roofline_seconds))
        result["roofline"]["time_shares"] = roofline.time_shares(
            finetuned, data.speed_texts, families.precisions_of(finetuned, cfg),
            int(cfg.emulated_bf16_segments))
        # the default last in each pair: `plain` and `sdpa` are PyTorch's own kernels, 64 the
        # batch the CPU used before batches of 16
        for key, setting, choices in (("attention", "cpu_attention", ("sdpa", "lane_padded")),
                                      ("linear_layers", "cpu_linear", ("plain", "fused")),
                                      ("batch_size", "batch_size", tuple(dict.fromkeys(
                                          (64, int(finetuned.params["batch_size"])))))):
            result["roofline"][key] = families.setting_speeds(
                finetuned, data, int(cfg.throughput_batch), int(cfg.kernel_rounds), setting,
                choices)

    log.info("segmenting")
    segmenter = Segmenter.from_config(cfg.segmenter)
    raw = Path(cfg.paths.data) / "raw"
    result["segmenting"] = segmenting.segmenting(segmenter, raw, workdir, int(cfg.segmenting_passes),
                                                 int(cfg.segment_pages))

    log.info("the whole job, end to end")
    experiments = workdir / "experiments"
    scratch = OmegaConf.create({"uri": f"sqlite:///{experiments}/mlflow.db",
                                "artifact_location": str(experiments / "artifacts"),
                                "experiment": "topicstance"})
    tracking.configure(scratch)
    seed_pages = sorted(raw.glob("*.txt"))
    per_copy = sum(len(s) for page in seed_pages
                   for _, s in segmenter.segment_page(page.stem, page.read_text(encoding="utf-8"),
                                                      page.name))
    default_uri = endtoend.register(models[cfg.default_model], cfg.default_model,
                                    data.speed_texts[:5])
    # The jobs find the furniture detector fitted above for the segmenting rows, as a daily run
    # finds the previous day's (the fit, ~10 s, is paid once, not in the 1k row).
    furniture_cache = cfg.segmenter.furniture_model.cache_dir
    result["end_to_end"] = {"model": cfg.default_model, "scale": endtoend.scale(
        workdir, seed_pages, per_copy, cfg.scale_sizes, default_uri, experiments, furniture_cache,
        int(cfg.scale_best_of))}
    if finetuned is not None and cfg.finetune_e2e_segments:
        uri = endtoend.register(finetuned, "minilm_finetune", data.speed_texts[:5])
        result["end_to_end"]["minilm_finetune"] = endtoend.scale(
            workdir, seed_pages, per_copy, [cfg.finetune_e2e_segments], uri, experiments,
            furniture_cache)[0]

    if finetuned is not None:  # the matmul peak again, the best of both kept
        result["roofline"] = {**roofline.roofline(finetuned, data.speed_texts,
                                                  families.precisions_of(finetuned, cfg),
                                                  float(cfg.roofline_seconds),
                                                  result["roofline"]["peak_gflops"]),
                              "time_shares": result["roofline"]["time_shares"],
                              **{key: result["roofline"][key]
                                 for key in ("attention", "linear_layers", "batch_size")}}
    _add_ratios(result)
    result["targets"] = targets(result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def _add_ratios(result: dict) -> None:
    """Every speed as a multiple of the naive baseline (`x_naive`), and the roofline fraction of
    each fine-tuned row."""
    base = result.get("naive", {}).get("segments_per_second")
    rows = [*result["inference"], *result["end_to_end"]["scale"], result.get("student", {}),
            result["end_to_end"].get("minilm_finetune", {})]
    for row in rows:
        if base and row.get("segments_per_second"):
            row["x_naive"] = round(row["segments_per_second"] / base, 2)
    line = result.get("roofline")
    if line:
        for row in result["inference"]:
            if row["family"] == "minilm_finetune" and row["precision"] in line["peak_gflops"]:
                row["roofline_fraction"] = roofline.fraction(
                    row["segments_per_second"], line["gflop_per_segment"],
                    line["peak_gflops"][row["precision"]])


def targets(result: dict) -> list[dict]:
    """The issue's targets, each with what this run measured and whether it is met."""
    scale = result["end_to_end"]["scale"]
    largest, out = scale[-1], []

    def add(name, goal, measured, met):
        out.append({"target": name, "goal": goal, "measured": measured,
                    "met": None if measured is None else bool(met)})

    add("end to end, default model, x naive baseline", ">= 5", largest.get("x_naive"),
        (largest.get("x_naive") or 0) >= 5)
    add("end to end, default model, segments/s", ">= 150 (aim 300)",
        largest["segments_per_second"], largest["segments_per_second"] >= 150)
    tfidf = [r["segments_per_second"] for r in result["inference"] if r["model"] == "tfidf_linear"]
    add("TF-IDF model (tfidf_linear), segments/s", ">= 10,000", tfidf[0] if tfidf else None,
        tfidf and tfidf[0] >= 10_000)
    plain = result["segmenting"]["plain_text"]["articles_per_second"]
    add("segmenting plain text, articles/s", ">= 2,000", plain, plain >= 2000)
    chosen = [r for r in result["inference"] if r["family"] == "minilm_finetune"
              and r["backend"] == "torch" and r.get("auto_choice")]
    fraction = chosen[0].get("roofline_fraction") if chosen else None
    add("fine-tuned model at its auto precision, share of the roofline", ">= 0.60", fraction,
        (fraction or 0) >= 0.6)
    add(f"peak RSS at {largest['segments']:,} segments, MB", "< 2048", largest["peak_rss_mb"],
        largest["peak_rss_mb"] < 2048)
    if len(scale) >= 2:
        growth = round(largest["peak_rss_mb"] / scale[-2]["peak_rss_mb"] - 1, 3)
        add(f"peak RSS growth {scale[-2]['segments']:,} -> {largest['segments']:,} segments",
            "<= 0.20", growth, growth <= 0.2)
    return out
