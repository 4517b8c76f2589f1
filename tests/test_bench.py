"""`make bench` machinery on tiny inputs: the results JSON has its schema and BENCHMARKS.md is
regenerated from it. No timing is asserted (speed belongs in the benchmark's own output)."""

import json
import os

import pytest
from benchmarks import __main__ as bench_main
from benchmarks import report

from conftest import config_defaults
from topicstance import hardware

TINY = ["budget=quick", "families=[tfidf_linear,tfidf_gated,minilm_finetune]",
        "default_model=tfidf_gated",
        "train_segments=200", "finetune.train_segments=16", "speed_segments=16",
        "metric_segments=20", "naive_segments=4", "scale_sizes=[100,400]", "scale_best_of=2",
        "finetune_e2e_segments=null", "roofline_seconds=0.05", "latency_batch=8"]
ROW_KEYS = {"model", "family", "precision", "backend", "segments_per_second", "x_naive",
            "latency_ms_p50", "latency_ms_p95", "dev/topic_macro_f1", "seeds/stance_macro_f1",
            "coverage_test/mean_macro_f1"}


@pytest.mark.slow
def test_quick_bench_writes_its_json_and_regenerates_benchmarks_md(tmp_path):
    path = bench_main.main([*TINY, f"paths.experiments='{tmp_path}/experiments'",
                            f"results_dir='{tmp_path}/results'",
                            f"report='{tmp_path}/BENCHMARKS.md'"])
    assert path.name.endswith("-quick.json") and path.parent == tmp_path / "results"
    result = json.loads(path.read_text())

    assert result["schema"] == 1 and result["profile"] == "quick"
    assert {"cpu", "cores", "flags", "torch_kernels", "threads"} <= set(result["machine"])
    # The pinned torch is the CPU wheel: no GPU, every row on the CPU, a plain file name.
    assert result["machine"]["gpu"] is None and "-gpu" not in path.name
    assert {r["device"] for r in result["inference"]} == {"cpu"}
    assert [t["model"] for t in result["training"]] == ["tfidf_linear", "tfidf_gated",
                                                        "minilm_finetune",
                                                        "minilm_finetune, first 3 layers"]
    assert result["training"][2]["int8_check"]["int8"] >= 0
    rows = {(r["model"], r["backend"], r["precision"]) for r in result["inference"]}
    assert {("tfidf_linear", "scikit-learn", "fp32"), ("minilm_finetune", "torch", "bf16"),
            ("minilm_finetune", "torch", "int8")} <= rows
    for row in result["inference"]:
        assert ROW_KEYS <= set(row), row["model"]
        assert row["throughput_passes"] >= 1
        assert 0 <= row["coverage_test/mean_macro_f1"] <= 1
    assert sum(r["auto_choice"] is True for r in result["inference"]
               if r["backend"] == "torch" and r["family"] == "minilm_finetune") == 1
    # The naive loop runs the same weights as the model: the same probabilities.
    assert result["naive"]["max_abs_diff_vs_model_fp32"] < 1e-4
    assert {"word", "char", "heads"} <= set(result["tfidf_blocks"])
    for kind in ("plain_text", "html", "plain_text_patterns_only"):
        assert result["segmenting"][kind]["articles"] > 0
        assert result["segmenting"][kind]["segments"] > 0
    small, job = result["end_to_end"]["scale"]
    assert job["segments"] > small["segments"] > 0 and job["peak_rss_mb"] > 0
    # a size below the largest: the fastest of its runs; the largest runs once
    assert small["runs"] == 2 and small["wall_seconds"] == min(small["wall_seconds_of_runs"])
    assert job["runs"] == 1
    assert 0 < result["roofline"]["gflop_per_segment"] < 10
    assert set(result["roofline"]["peak_gflops"]) == {"fp32", "bf16", "int8"}
    for shares in result["roofline"]["time_shares"].values():  # every second of a pass placed
        assert shares["linear"] > 0 and shares["attention"] > 0 and shares["linear_gflops"] > 0
        assert sum(shares[k] for k in ("linear", "attention", "other_ops", "outside_ops")) == \
            pytest.approx(1, abs=0.005)
    # The CPU kernels' A/B runs at the precision `auto` picks; the linear layers' not at int8.
    auto = next(r["precision"] for r in result["inference"]
                if r["family"] == "minilm_finetune" and r["auto_choice"])
    for key, choices in (("attention", {"sdpa", "lane_padded"}),
                         ("linear_layers", {"plain", "fused"}), ("batch_size", {"64", "16"})):
        speeds = result["roofline"][key]
        if key == "linear_layers" and auto == "int8":
            assert speeds is None
            continue
        assert speeds["precision"] == auto
        assert set(speeds["segments_per_second"]) == choices
        assert min(speeds["segments_per_second"].values()) > 0
    assert {t["target"] for t in result["targets"]} >= {"segmenting plain text, articles/s"}
    assert result["end_to_end"]["model"] == "tfidf_gated"

    written = (tmp_path / "BENCHMARKS.md").read_text()
    assert written == report.render(result, path)
    for heading in ("## Targets", "## The naive baseline", "## Inference of each model family",
                    "## Training time", "## Segmenting", "## The whole job, end to end",
                    "## The machine's limit", "Where the time goes",
                    *(["Attention on the CPU at"] if result["roofline"]["attention"] else []),
                    *(["Linear layers on the CPU at"] if result["roofline"]["linear_layers"] else []),
                    *(["Batch size on the CPU at"] if result["roofline"]["batch_size"] else [])):
        assert heading in written
    assert f"{result['naive']['segments_per_second']:,.1f} segments/s" in written
    # The student is trained (not cut from the fine-tuned network): half the layers, same heads.
    assert result["student"]["model"] == "minilm_finetune, first 3 layers"
    assert "A smaller student" in written and "ONNX Runtime** (tried and removed)" in written


def test_segmenting_reports_one_pass_of_pages_at_the_best_passs_speed(tmp_path):
    from benchmarks import segmenting
    from omegaconf import OmegaConf

    from topicstance.config import CONF_DIR
    from topicstance.segment import Segmenter
    rules = OmegaConf.load(CONF_DIR / "segmenter" / "default.yaml")
    rules.furniture_model.enabled = False
    segmenter = Segmenter.from_config(rules)
    for n, text in enumerate(["Kyiv said on Monday that talks would resume.\n\nThe talks stalled.",
                              "Sanctions were extended.\n\nSign up for our newsletter"]):
        (tmp_path / f"{n}.txt").write_text(text, encoding="utf-8")
    inputs = {"plain": (segmenter, tmp_path), "again": (segmenter, tmp_path)}
    once, best = (segmenting.measure(inputs, passes, 64) for passes in (1, 3))
    assert once.keys() == best.keys() == inputs.keys()
    once, best = once["plain"], best["again"]
    assert best["best_of_passes"] == 3
    assert (best["pages"], best["articles"], best["segments"], best["megabytes"]) == (
        once["pages"], once["articles"], once["segments"], once["megabytes"]) == (2, 2, 3, 0.0)


def test_auto_precision_takes_int8_only_where_it_kept_the_metrics(monkeypatch):
    kept = {"fp32": 0.80, "int8": 0.795, "tolerance": 0.01, "keeps_metrics": True}
    lost = {**kept, "int8": 0.70, "keeps_metrics": False}
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2", "avx512_vnni"}))
    assert hardware.choose_precision("auto", kept)[0] == "int8"
    assert "avx512_vnni" in hardware.choose_precision("auto", kept)[1]
    assert hardware.choose_precision("auto", lost)[0] == "fp32"
    assert hardware.choose_precision("auto", None)[0] == "fp32"
    assert hardware.choose_precision("bf16", lost) == ("bf16", "set in the model config")
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert hardware.choose_precision("auto", kept)[0] == "bf16"


def test_an_avx2_limit_hides_every_later_flag_from_auto(monkeypatch):
    """`TOPICSTANCE_CPU_ISA=avx2` (what `make bench ISA=avx2` sets): this CPU's own flags, less
    AVX-512, AMX and VNNI, so `auto` chooses as on an AVX2-only CPU."""
    kept = {"fp32": 0.80, "int8": 0.795, "tolerance": 0.01, "keeps_metrics": True}
    hardware.cpu_flags.cache_clear()
    try:
        monkeypatch.setenv(hardware.ISA_LIMIT_VARIABLE, "avx2")
        flags = hardware.cpu_flags()
        assert not any(f.startswith(("avx512", "amx")) or "vnni" in f for f in flags)
        assert {"avx2", "fma"} <= flags  # x86 CI machines have both
        assert hardware.choose_precision("auto", kept)[0] == "int8"
        assert hardware.describe()["isa_limit"] == "avx2"
        monkeypatch.setenv(hardware.ISA_LIMIT_VARIABLE, "avx512")
        with pytest.raises(ValueError, match="the only limit known is avx2"):
            hardware.isa_limit()
    finally:
        hardware.cpu_flags.cache_clear()


def test_make_bench_isa_avx2_holds_every_kernel_library_to_avx2(tmp_path):
    """The environment `make bench ISA=avx2` runs the bench in, checked in a real process: ATen
    dispatches AVX2 kernels, oneDNN refuses bf16 weights (it needs AVX-512 for them), and the
    job sees no flag above AVX2."""
    import itertools
    import shlex
    import subprocess
    import sys

    from topicstance.config import project_root

    dry = subprocess.run(["make", "-n", "bench", "ISA=avx2"], cwd=project_root(),
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in dry.splitlines() if "-m benchmarks" in line)
    env = dict(word.split("=", 1) for word in
               itertools.takewhile(lambda word: "=" in word, shlex.split(line)))
    assert {"FBGEMM_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
            "ATEN_CPU_CAPABILITY", hardware.ISA_LIMIT_VARIABLE} <= set(env)
    probe = ("import torch; from topicstance import hardware; "
             "from topicstance.models.cpu_linear import fused_linear_supported; "
             "print(torch.backends.cpu.get_cpu_capability(), "
             "fused_linear_supported(torch.bfloat16), hardware.native_bf16_flags())")
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["AVX2", "False", "[]"]


def test_a_run_held_to_avx2_is_a_section_of_the_newest_cpu_runs_page(tmp_path):
    """Never the page itself: its speeds are an AVX2 CPU's, its targets its own table."""
    import shutil

    cpu_source = report.newest(report.RESULTS, gpu=False)
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(cpu_source, results / cpu_source.name)
    held = json.loads(cpu_source.read_text())
    held["machine"].update(isa_limit="avx2", flags=["avx2", "fma"], torch_kernels="AVX2")
    held["targets"][0]["measured"] = 12345.6
    (results / "held-avx2.json").write_text(json.dumps(held))
    assert report.newest(results, gpu=False) == results / cpu_source.name
    assert report.newest(results, gpu=False, isa_limit="avx2") == results / "held-avx2.json"
    from_held, from_cpu = tmp_path / "from_held.md", tmp_path / "from_cpu.md"
    report.write(results / "held-avx2.json", from_held, results)
    report.write(results / cpu_source.name, from_cpu, results)
    text = from_held.read_text()
    assert text == from_cpu.read_text()
    assert cpu_source.name in text.splitlines()[2]  # "Generated ... from <the CPU run>"
    section = text.split("### On an AVX2-only CPU")[1].split("## ")[0]
    assert "`make bench ISA=avx2`" in section and "flags avx2, fma" in section
    assert "12,345.6" in section and "12,345.6" not in text.split("### On an AVX2-only CPU")[0]


def test_the_cpu_is_named_with_its_family_and_model_where_cpuinfo_gives_them(monkeypatch):
    fields = {"model name": "AMD EPYC", "cpu family": "25", "model": "17"}
    monkeypatch.setattr(hardware, "_cpuinfo_field", fields.get)
    assert hardware.cpu_model() == "AMD EPYC (family 25, model 17)"
    fields.pop("cpu family")  # e.g. an ARM machine: the name alone
    assert hardware.cpu_model() == "AMD EPYC"


def test_device_auto_is_the_cpu_where_torch_sees_no_gpu_and_cuda_is_never_assumed():
    # The pinned torch is the CPU wheel: no GPU, whatever the machine has.
    assert hardware.choose_device("auto") == ("cpu", "auto: no GPU visible to torch")
    assert hardware.choose_device("cpu") == ("cpu", "set in the model config")
    with pytest.raises(RuntimeError, match="torch sees no GPU"):
        hardware.choose_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        hardware.choose_device("gpu")


def test_on_a_gpu_auto_is_the_gpu_at_bf16_where_it_has_bf16(monkeypatch):
    """The decision only (CI has no GPU; the committed GPU run exercised the real one)."""
    import torch

    kept = {"fp32": 0.80, "int8": 0.795, "tolerance": 0.01, "keeps_metrics": True}
    monkeypatch.setattr(hardware, "gpu_name", lambda: "NVIDIA H200")
    assert hardware.choose_device("auto") == ("cuda", "auto: GPU NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hardware.choose_precision("auto", kept, "cuda")[0] == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert hardware.choose_precision("auto", kept, "cuda")[0] == "fp32"  # never int8 on a GPU


def test_a_gpu_run_becomes_the_gpu_column_of_the_newest_cpu_run(tmp_path):
    """Whichever of the two runs writes the report, it is the CPU run's report with the GPU
    run's rows that ran on the GPU as extra columns; without a GPU run, no such column."""
    import shutil

    cpu_source = report.newest(report.RESULTS, gpu=False)
    gpu_source = report.newest(report.RESULTS, gpu=True)
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(cpu_source, results / cpu_source.name)
    alone = tmp_path / "alone.md"
    report.write(results / cpu_source.name, alone, results)
    assert "GPU seg/s" not in alone.read_text()

    shutil.copy(gpu_source, results / gpu_source.name)
    from_gpu, from_cpu = tmp_path / "from_gpu.md", tmp_path / "from_cpu.md"
    report.write(results / gpu_source.name, from_gpu, results)
    report.write(results / cpu_source.name, from_cpu, results)
    text = from_gpu.read_text()
    assert text == from_cpu.read_text()
    gpu = json.loads(gpu_source.read_text())
    assert "**GPU column:**" in text and gpu["machine"]["gpu"] in text
    row = next(line for line in text.splitlines() if line.startswith("| `minilm_finetune` | bf16"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    bf16 = next(r for r in gpu["inference"] if r["model"] == "minilm_finetune"
                and r["precision"] == "bf16")
    assert cells[-4].startswith(f"{bf16['segments_per_second']:,.1f}")
    tfidf = next(line for line in text.splitlines() if line.startswith("| `tfidf_linear` |"))
    assert tfidf.endswith("| - | - | - | - |")  # a CPU-only family: nothing in the GPU column


def test_the_end_to_end_rows_default_to_the_model_make_train_trains():
    assert bench_main.default_model() == config_defaults("train")["model"]


def test_compare_lines_up_two_runs_figure_by_figure():
    from benchmarks import compare

    first = json.loads(report.newest(report.RESULTS, gpu=False).read_text())
    second = json.loads(json.dumps(first))
    second["naive"]["segments_per_second"] *= 2
    lines, ratios = compare.compare(first, second)
    naive = next(line for line in lines if line.startswith("| naive baseline, seg/s |"))
    assert naive.endswith("| 2.00 |")
    assert len(ratios) == len(lines) - 2 and max(ratios) == 2 and min(ratios) == 1
    assert any(line.startswith("| end to end 100,000 segments, peak RSS MB |") for line in lines)


def test_the_bench_trains_on_the_split_make_train_builds(tmp_path):
    """The outlets (the article stage's folds) and the gate's about-the-war flags are there,
    so the bench's `tfidf_article` is the model `make train` trains."""
    from benchmarks import data as bench_data
    from omegaconf import OmegaConf

    from conftest import compose_config
    from topicstance.config import CONF_DIR

    cfg = compose_config("bench", tmp_path, ["speed_segments=8", "metric_segments=20"])
    gate = OmegaConf.load(CONF_DIR / "model" / "tfidf_article.yaml").gate
    gate.topics, gate.neutral_stance = list(cfg.labels.war_topics), cfg.labels.no_side
    train = bench_data.load(cfg, gate).train
    known = [o for o in train.outlets if o]
    assert len(train.outlets) == len(train) and len(set(known)) > 50
    assert train.about_war is not None and 0 < train.about_war.mean() < 1


def test_a_rerun_on_the_same_day_and_host_keeps_the_earlier_run_beside_it(tmp_path):
    path = tmp_path / "2026-12-05-vm.json"
    assert bench_main.keep_earlier_run(path) is None  # the day's first run: nothing to move
    run = {"date": "2026-12-05", "profile": "full", "machine": {"gpu": None}}
    path.write_text(json.dumps({**run, "run": 1}))
    earlier = bench_main.keep_earlier_run(path)
    assert not path.exists() and json.loads(earlier.read_text())["run"] == 1
    assert earlier.name.startswith("2026-12-05-vm-") and earlier.suffix == ".json"
    path.write_text(json.dumps({**run, "run": 2}))
    # BENCHMARKS.md is made from the plain name, the day's newest run
    assert report.newest(tmp_path, gpu=False) == path


def test_on_a_cpu_without_bf16_its_rows_are_a_short_probe_without_metrics(tmp_path, monkeypatch):
    """On an AVX2-only CPU PyTorch emulates bf16 (4-5x slower than fp32): timing and scoring it
    like the other precisions would take most of the bench's 20 minutes there. The CPU's flags
    are set (this machine's own may have bf16); the model and its inference are real."""
    from benchmarks import data as bench_data
    from benchmarks import families
    from omegaconf import OmegaConf

    from conftest import compose_config
    from topicstance.models import build_from_params

    cfg = compose_config("bench", tmp_path, ["speed_segments=12", "metric_segments=16",
                                             "emulated_bf16_segments=6", "latency_batch=3",
                                             "precisions=[fp32,bf16]"])
    data = bench_data.load(cfg, None)
    params = OmegaConf.to_container(
        compose_config("train", tmp_path, ["model=minilm_linear"]).model, resolve=True)
    model = build_from_params(params, data.taxonomy)
    model.fit(bench_data.subset(data.train, 200, 0), data.scored["dev"])

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    fp32, bf16 = families.inference_rows(cfg, {"minilm_linear": model}, data)
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert fp32["segments"] == 12 and "coverage_test/topic_macro_f1" in fp32
    assert bf16["emulated"] and bf16["segments"] == 6 and bf16["segments_per_second"] > 0
    assert not any(key.endswith("macro_f1") for key in bf16)
    assert not bf16["auto_choice"]  # auto never picks an emulated precision
    assert not hardware.emulated("int8") and not hardware.emulated("bf16", "cuda")
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert not hardware.emulated("bf16")


def test_an_emulated_row_is_reported_without_metrics_and_says_why():
    result = json.loads(report.newest(report.RESULTS, gpu=False).read_text())
    row = next(r for r in result["inference"]
               if r["model"] == "minilm_linear" and r["precision"] == "bf16")
    for key in [k for k in row if k.endswith("_macro_f1")]:
        del row[key]
    row.update(emulated=True, segments=128, batch=64)
    text = report.render(result, report.newest(report.RESULTS, gpu=False))
    line = next(line for line in text.splitlines() if line.startswith("| `minilm_linear` | bf16"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[7:10] == ["-", "-", "-"]  # dev, seeds and coverage_test topic / stance
    assert "PyTorch emulates bf16" in text and "128 texts in calls of 64" in text
