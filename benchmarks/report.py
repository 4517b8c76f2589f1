"""BENCHMARKS.md from a results JSON: `python -m benchmarks.report [results.json [gpu.json]]`
(default: the newest CPU run in benchmarks/results/, the newest run on a GPU, if any, as the
GPU column, and the newest run held to AVX2 (`make bench ISA=avx2`), if any, as its own
section). Every figure comes from those files."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Measured, then removed: a second inference backend has to pay for itself.
ONNX_VERDICT = (
    "- **ONNX Runtime** (tried and removed): the fine-tuned network exported to ONNX with all "
    "graph optimisations ran at 0.54x torch bf16 in fp32, and int8 (dynamic, VNNI MatMuls) at "
    "1.17x and 0.97x torch bf16 in two full runs on the AVX-512 machine (2026-12-02, commit "
    "01f940d), at equal coverage-test metrics. Within the run-to-run noise of this VM, for a "
    "second backend, an export step and about 110 MB of dependencies, so the `onnx` extra and "
    "the backend were removed; torch's own int8 and bf16 paths remain.")
COMPILE_VERDICT = (
    "- **torch.compile** (measured, not adopted): inductor with frozen weights and dynamic "
    "shapes fuses the attention, layer norms, GELU and the bf16 casts around the matmuls; on "
    "the seed texts at bf16 the pretrained-architecture network went from 88-111 to 119-136 "
    "seg/s (+22-35%) in three processes on the AMD machine (2026-12-03, outside this bench), "
    "but it compiles for 29-34 s in every process (inductor's cache warm or not) and needs a C++ "
    "compiler at run time. Ahead of time (`torch.export` and AOTInductor: compiled once, the "
    "package loaded in 0.1 s with no compiler) it took 19-45 s to compile, a 47-92 MB package "
    "per model and CPU, and gained only 3-8% over eager bf16 on the same token batches. Neither "
    "is adopted for an encoder family that is not the default.")

QKV_VERDICT = (
    "- **Q, K and V in one linear layer** (measured, not adopted): the attention's three 384 x "
    "384 projections as one 384 x 1152 layer, its output laid into the padded head-major "
    "buffer in one copy; the bare encoder over 768 coverage segments, alternating passes (Zen 4, "
    "2026-12-06, outside this bench): int8 173.7 -> 181.9 seg/s (+4.7%), bf16 169.3 -> 166.0 "
    "(-2%), fp32 89.5 -> 90.4 (+1%), and at int8 one weight scale for the three matrices moved "
    "the embeddings by up to 0.16. The projections already run near the matmul peak, and the "
    "copies into the heads' layout move the same bytes either way.")


def _emulated_note(rows: list[dict]) -> str:
    emulated = [r for r in rows if r.get("emulated")]
    if not emulated:
        return ""
    return (f" This CPU has no bf16 instructions, so PyTorch emulates bf16 (`auto` never picks "
            f"it here): its rows are a short probe, {emulated[0]['segments']} texts in calls of "
            f"{emulated[0]['batch']}, with no metrics (bf16 rounds the same on every CPU; the "
            "bench would otherwise spend most of its time on them).")


def _f(value, digits=1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *["| " + " | ".join(str(c) for c in row) + " |" for row in rows], ""]


def _setting_ab(ab: dict | None, kernel: str, baseline: str, what: str) -> list[str]:
    """The alternating-pass A/B of one CPU inference setting (`families.setting_speeds`)."""
    if not ab:
        return []
    speeds = ab["segments_per_second"]
    return [(f"{kernel} on the CPU at {ab['precision']} (`auto` here), {ab['rounds']} "
             f"alternating passes over the same texts, the best of each: {what}"), "",
            *_table([kernel.lower(), "seg/s", f"x {baseline}"],
                    [[name, _f(speed), _f(speed / speeds[baseline], 2)]
                     for name, speed in speeds.items()])]


def _name(source: Path):
    return source.relative_to(ROOT) if source.is_relative_to(ROOT) else source


def _on_gpu(row: dict) -> bool:
    return row.get("device") == "cuda"


def render(result: dict, source: Path, gpu: dict | None = None,
           gpu_source: Path | None = None, avx2: dict | None = None,
           avx2_source: Path | None = None) -> str:
    """`gpu`: a run of the same bench on a machine with a GPU; its rows that ran on the GPU
    become a separate column (its CPU-only rows are of another CPU and are left out). `avx2`: a
    run held to AVX2, its targets and roofline in a section of their own."""
    m = result["machine"]
    name = _name(source)
    out = ["# Benchmarks", "",
           (f"Generated by `python -m benchmarks.report` from `{name}` (`make bench`"
           f"{' QUICK=1' if result['profile'] == 'quick' else ''}, {result['date']}, host "
           f"`{result['host']}`, {result['seconds']:.0f} s). Do not edit by hand: rerun "
           f"`make bench`."), "",
           (f"**CPU:** {m['cpu']}, {m['cores']} cores, flags {', '.join(m['flags']) or 'none'}; "
           f"torch kernels `{m['torch_kernels']}`, {m['threads']} threads, torch {m['torch']}, "
           f"Python {m['python']}. Load average at start: {m['load_average_at_start']}."
           + (f" **GPU:** {m['gpu']}." if m.get("gpu") else "")), ""]
    if gpu:
        g = gpu["machine"]
        out += [(f"**GPU column:** the same bench on a machine with a GPU, from "
                 f"`{_name(gpu_source)}` ({gpu['profile']} profile, {gpu['date']}, host "
                 f"`{gpu['host']}`, {gpu['seconds']:.0f} s, overrides "
                 f"`{' '.join(gpu.get('overrides', [])) or 'none'}`): **{g['gpu']}**, its host "
                 f"CPU {g['cpu']} ({g['cores']} cores, {g['threads']} threads used), torch "
                 f"{g['torch']}, Python {g['python']}. Only the rows that ran on the GPU are "
                 "shown; its fine-tunes are its own (the same config, trained there), so their "
                 "metrics differ from this CPU's by training noise."), ""]
    if result["profile"] != "full":
        out += [(f"**Profile `{result['profile']}`:** small inputs and a barely trained "
                "fine-tune: these figures check the machinery; they are not for choosing."), ""]

    out += ["## Targets", ""]
    out += _targets_table(result)
    if avx2:
        out += _avx2_section(avx2, avx2_source)

    naive = result.get("naive")
    if naive:
        out += ["## The naive baseline", "",
                ("A transformers `pipeline(\"feature-extraction\")` over the same fine-tuned "
                "encoder, its mean pooling and heads applied per segment: one segment at a time, "
                f"fp32, no batching or length sorting. {_f(naive['segments_per_second'])} "
                f"segments/s (p50 {_f(naive['latency_ms_p50'])} ms, p95 "
                f"{_f(naive['latency_ms_p95'])} ms per segment, {naive['segments']} segments"
                + (f", the fastest of {naive['passes']} passes" if naive.get("passes", 1) > 1 else "")
                + "); "
                f"its stance probabilities differ from the model's own fp32 path by at most "
                f"{naive['max_abs_diff_vs_model_fp32']:.1e}. Every `x naive` below is a ratio "
                "to it.")
                + ("" if not (gpu and gpu.get("naive")) else
                   f" On the GPU the same loop runs at {_f(gpu['naive']['segments_per_second'])} "
                   f"segments/s (p50 {_f(gpu['naive']['latency_ms_p50'])} ms); each `GPU x "
                   "naive` is a ratio to that."), ""]

    first = result["inference"][0]
    calls = (f"throughput in calls of {first['batch']} texts"
             + (f" (the best of the passes over them that fit in "
                f"{result['config']['throughput_seconds']:g} s, at least "
                f"{result['config'].get('throughput_min_passes', 1)})"
                if "throughput_passes" in first else "")
             + f", latency per call of {first.get('latency_batch', first['batch'])}")
    out += ["## Inference of each model family", "",
            (f"{first['segments']} real labeled segments of "
            f"{result['config']['speed_words'][0]}-{result['config']['speed_words'][1]} words with "
            f"their article context, `predict_frame` (what the job calls): {calls}. "
            "Macro-F1 beside each row: "
            "dev (written text like the training data), the five seed pages and the coverage "
            "test part (real text no model trained on)"
            + (f", each at most about {result['config']['metric_segments']:,} segments (whole "
               "articles drawn at random)" if result["config"].get("metric_segments") else "")
            + ". `auto` marks the precision `precision: auto` picks on this CPU."
            + _emulated_note(result["inference"])), ""]
    sets = [k.split("/")[0] for k in result["inference"][0] if k.endswith("/topic_macro_f1")]
    header = ["model", "precision", "backend", "seg/s", "x naive", "p50 ms", "p95 ms",
              *[f"{s} topic / stance" for s in sets]]
    on_gpu = {} if not gpu else {
        (r["model"], r["precision"]): r
        for r in [*gpu["inference"], *([gpu["student"]] if gpu.get("student") else [])]
        if _on_gpu(r)}
    if on_gpu:
        header += ["GPU seg/s", "GPU x naive", "GPU p50 ms", "GPU coverage_test topic / stance"]
    rows = []
    for r in [*result["inference"], *([result["student"]] if result.get("student") else [])]:
        mark = " (auto)" if r.get("auto_choice") else ""
        rows.append([f"`{r['model']}`", f"{r['precision']}{mark}", r.get("backend", "torch"),
                     _f(r["segments_per_second"]), _f(r.get("x_naive"), 2),
                     _f(r["latency_ms_p50"]), _f(r["latency_ms_p95"]),
                     *[f"{r[f'{s}/topic_macro_f1']:.3f} / {r[f'{s}/stance_macro_f1']:.3f}"
                       if f"{s}/topic_macro_f1" in r else "-" for s in sets]])
        if on_gpu:
            g = on_gpu.get((r["model"], r["precision"]))
            rows[-1] += ["-"] * 4 if g is None else [
                _f(g["segments_per_second"]) + (" (auto)" if g.get("auto_choice") else ""),
                _f(g.get("x_naive"), 2), _f(g["latency_ms_p50"]),
                f"{g['coverage_test/topic_macro_f1']:.3f} / {g['coverage_test/stance_macro_f1']:.3f}"]
    out += _table(header, rows)
    blocks = result.get("tfidf_blocks")
    if blocks:
        out += [("Where `tfidf_linear`'s inference time goes: each part alone on the same "
                 "texts in one call on one thread, segments/s (the n-grams are counted in numpy, "
                 "src/topicstance/ngrams.py; the character 2-5-grams are the most numerous):"),
                ""]
        out += _table(["part", "seg/s"], [[name, _f(v)] for name, v in blocks.items()])

    out += ["## Training time", ""]
    gpu_seconds = {t["model"]: t["train_seconds"] for t in (gpu or {}).get("training", [])
                   if _on_gpu(t)}
    training = [[f"`{t['model']}`", _f(t["train_segments"]), _f(t["train_seconds"]),
                 t.get("note", "")] for t in result["training"]]
    if gpu_seconds:
        training = [[*row[:3], _f(gpu_seconds.get(t["model"])), row[3]]
                    for row, t in zip(training, result["training"], strict=True)]
    out += _table(["model", "training segments", "seconds",
                   *(["GPU seconds"] if gpu_seconds else []), "note"], training)
    checks = [t for t in result["training"] if t.get("int8_check")]
    if checks:
        out += ["int8 check after training (dev mean macro-F1; `auto` takes int8 on a CPU "
                "without native bf16 only where it kept the metrics): " + "; ".join(
                    f"`{t['model']}` fp32 {t['int8_check']['fp32']:.3f}, int8 "
                    f"{t['int8_check']['int8']:.3f} ({'kept' if t['int8_check']['keeps_metrics'] else 'lost'})"
                    for t in checks) + ".", ""]

    out += ["## Segmenting", "",
            ("Read, decode, split into articles and cut into segments, as the job does"
            + (f" ({result['config']['segment_pages']} pages per call)"
               if result["config"].get("segment_pages") else "")
            + ", over the bundled pages"
            + (", after one warm-up call" if result["segmenting"]["plain_text"].get("warmed_up") else "")
            + (f", the best of {result['segmenting']['plain_text']['best_of_passes']} passes"
               if "best_of_passes" in result["segmenting"]["plain_text"] else "")
            + "; HTML: the same pages served as HTML pages, through trafilatura; "
            "patterns only: plain text without the learned furniture detector, what it costs."),
            ""]
    out += _table(["input", "pages", "articles", "segments", "MB", "articles/s", "pages/s", "MB/s"],
                  [[kind, _f(s["pages"]), _f(s["articles"]), _f(s["segments"]), _f(s["megabytes"], 2),
                    _f(s["articles_per_second"]), _f(s["pages_per_second"]), _f(s["mb_per_second"], 2)]
                   for kind, s in result["segmenting"].items()])

    e2e = result["end_to_end"]
    out += ["## The whole job, end to end, and its scale", "",
            (f"`topicstance-predict` as a user runs it (a child process, timed from outside, "
            f"model load included) with the default model `{e2e['model']}` on the seed pages "
            "repeated in folders; peak RSS from the kernel."), ""]
    scale_rows = [[_f(r["segments"]), _f(r["wall_seconds"], 2), _f(r["segments_per_second"]),
                   _f(r["ms_per_segment"], 3), _f(r["peak_rss_mb"]), _f(r.get("x_naive"), 2)]
                  for r in e2e["scale"]]
    out += _table(["segments", "wall s", "seg/s", "ms/segment", "peak RSS MB", "x naive"],
                  scale_rows)
    repeated = [r for r in e2e["scale"] if r.get("runs", 1) > 1]
    if repeated:
        out += [("Each size below the largest is the fastest of its runs (a small run is mostly "
                 "the job's start-up, which varies): " + "; ".join(
                     f"{_f(r['segments'])} segments: " + ", ".join(
                         f"{_f(w, 2)}" for w in r["wall_seconds_of_runs"]) + " s"
                     for r in repeated) + "."), ""]
    if e2e.get("minilm_finetune"):
        r = e2e["minilm_finetune"]
        out += [(f"With the fine-tuned model (`{r['inference'].get('precision', '?')}`, "
                f"{r['inference'].get('precision_reason', '')}): {_f(r['segments'])} segments in "
                f"{_f(r['wall_seconds'], 2)} s, {_f(r['segments_per_second'])} seg/s "
                f"({_f(r.get('x_naive'), 2)} x naive), peak RSS {_f(r['peak_rss_mb'])} MB."), ""]
    if gpu:
        g = gpu["end_to_end"]
        gpu_jobs = [(g["model"], r) for r in g["scale"]] + (
            [("minilm_finetune", g["minilm_finetune"])] if g.get("minilm_finetune") else [])
        gpu_jobs = [(model, r) for model, r in gpu_jobs if r["inference"].get("device") == "cuda"]
        if gpu_jobs:
            out += [("The same job on the GPU machine, its model on the GPU (segmenting and "
                     "writing on its CPU):"), ""]
            out += _table(["model", "precision", "segments", "wall s", "seg/s", "peak RSS MB",
                           "GPU x naive"],
                          [[f"`{model}`", r["inference"].get("precision", "?"),
                            _f(r["segments"]), _f(r["wall_seconds"], 2),
                            _f(r["segments_per_second"]), _f(r["peak_rss_mb"]),
                            _f(r.get("x_naive"), 2)] for model, r in gpu_jobs])

    line = result.get("roofline")
    if line:
        out += ["## The machine's limit", "",
                (f"The fine-tuned encoder ({line['layers']} layers, hidden {line['hidden']}, "
                f"feed-forward {line['intermediate']}) does {line['gflop_per_segment']:.3f} GFLOP "
                f"per segment at the mean {line['mean_tokens']} tokens of the timed texts. This "
                f"CPU's best matmul of the shape of one inference batch {line['matmul_shape']} "
                "(fp32 and bf16: the faster of MKL's matmul and oneDNN's linear; int8: "
                "the dynamically quantized linear; measured mid-run and at the end, the best "
                "kept):"), ""]
        out += _roofline_table(line, [r for r in result["inference"]
                                      if r["family"] == "minilm_finetune"
                                      and r["backend"] == "torch"])
        emulated = {r["precision"] for r in result["inference"] if r.get("emulated")}
        if line.get("time_shares"):
            out += [("Where the time goes: one pass over the same texts under torch.profiler, "
                     "the share of its time in the linear layers (the matmuls the roofline "
                     "counts; with `cpu_linear: fused` the feed-forward GELU runs inside them), "
                     "in attention (scores, softmax, weighted sum: about 3.5% of the "
                     "FLOPs), in the other torch ops (GELU, layer norms, adds, casts) and "
                     "outside torch ops (tokenizing, padding, Python), and the GFLOP/s the "
                     "linear layers reach on their own:"), ""]
            out += _table(["precision", "linear layers", "attention", "other ops",
                           "outside ops", "linear layers' GFLOP/s", "of the peak"],
                          [[p, _f(t["linear"], 3), _f(t["attention"], 3), _f(t["other_ops"], 3),
                            _f(t["outside_ops"], 3), _f(t["linear_gflops"]),
                            _f(t["linear_gflops"] / line["peak_gflops"][p], 2)
                            if t["linear_gflops"] and p in line["peak_gflops"]
                            and p not in emulated else "-"]
                           for p, t in line["time_shares"].items()])
        out += _setting_ab(line.get("attention"), "Attention", "sdpa", (
            "PyTorch's fused kernel (`model.cpu_attention=sdpa`) against the project's, keys "
            "padded to whole 512-bit vectors for the softmax (`lane_padded`, the default; "
            "`src/topicstance/models/cpu_attention.py`)."))
        out += _setting_ab(line.get("linear_layers"), "Linear layers", "plain", (
            "PyTorch's `nn.Linear` (`model.cpu_linear=plain`) against oneDNN's linear with the "
            "bias and the feed-forward GELU fused in, from weights packed once (`fused`, the "
            "default; `src/topicstance/models/cpu_linear.py`)."))
        out += _setting_ab(line.get("batch_size"), "Batch size", "64", (
            "texts per forward pass on the CPU (`model.batch_size`): 64, the batch before, "
            "against the configured one, whose activations stay in the caches."))
        gline = (gpu or {}).get("roofline")
        if gline and gline.get("device") == "cuda":
            out += [(f"On the GPU ({gpu['machine']['gpu']}), the same matmul shape "
                     f"{gline['matmul_shape']} at the mean {gline['mean_tokens']} tokens. Where "
                     "fp32 and bf16 run at about the same speed, the GPU's arithmetic is not "
                     "what limits this small encoder: the work around each batch on the CPU "
                     "(tokenizing, padding, Python, kernel launches) is."), ""]
            out += _roofline_table(gline, [r for r in gpu["inference"]
                                           if r["family"] == "minilm_finetune" and _on_gpu(r)])
    out += ["## Faster paths tried", "", ONNX_VERDICT, COMPILE_VERDICT, QKV_VERDICT]
    student = result.get("student")
    full = next((r for r in result["inference"] if r["family"] == "minilm_finetune"
                 and r["precision"] == (student or {}).get("precision")), None)
    if student and full:
        drop = full["seeds/mean_macro_f1"] - student["seeds/mean_macro_f1"]
        verdict = ("No verdict from a quick run." if result["profile"] != "full" else
                   "Within a point of the full network: worth offering as "
                   "`model.encoder_layers` for CPU-bound runs." if drop <= 0.01 else
                   "More than a point lost, so the default keeps all six layers "
                   "(`model.encoder_layers` stays available for CPU-bound runs).")
        out += [(f"- **A smaller student** ({student['model']}, fine-tuned on the same reduced "
                 f"budget as the full network above): {_f(student['segments_per_second'])} "
                 f"seg/s against {_f(full['segments_per_second'])} at {student['precision']}; "
                 f"seed-page mean macro-F1 {student['seeds/mean_macro_f1']:.3f} against "
                 f"{full['seeds/mean_macro_f1']:.3f} ({-drop:+.3f}), coverage test "
                 f"{student['coverage_test/mean_macro_f1']:.3f} against "
                 f"{full['coverage_test/mean_macro_f1']:.3f}. {verdict}")]
    out += [""]
    return "\n".join(out)


def _targets_table(run: dict) -> list[str]:
    return _table(["target", "goal", "measured", "met"],
                  [[t["target"], t["goal"], _f(t["measured"], 3 if isinstance(t["measured"], float)
                                               and t["measured"] < 2 else 1), _f(t["met"])]
                   for t in run["targets"]])


def _avx2_section(run: dict, source: Path) -> list[str]:
    """The targets on an AVX2-only CPU, from a run of `make bench ISA=avx2`."""
    m = run["machine"]
    out = ["### On an AVX2-only CPU", "",
           (f"The same bench held to AVX2 (`make bench ISA=avx2`, from `{_name(source)}`, "
            f"{run['profile']} profile, {run['date']}, host `{run['host']}`, "
            f"{run['seconds']:.0f} s) on {m['cpu']}: fbgemm, oneDNN, MKL, ATen, numpy and "
            "OpenBLAS run their AVX2 kernels (torch kernels "
            f"`{m['torch_kernels']}`), and `precision: auto` sees flags "
            f"{', '.join(m['flags']) or 'none'}, so every choice is an AVX2 CPU's. The cores, "
            "clock and caches are still this machine's: an older AVX2 CPU is slower in every "
            "row, and the ratios (x naive, share of the roofline) carry over better than the "
            "speeds."), ""]
    out += _targets_table(run)
    chosen = [f"`{r['model']}` {r['precision']}" for r in run["inference"] if r.get("auto_choice")]
    line = run.get("roofline")
    if line:
        out += [(f"`auto` picks {', '.join(chosen)}. The fine-tuned encoder there, against "
                 f"the best matmul of shape {line['matmul_shape']} at each precision:"), ""]
        out += _roofline_table(line, [r for r in run["inference"]
                                      if r["family"] == "minilm_finetune"
                                      and r["backend"] == "torch"])
    return out


def _roofline_table(line: dict, fine_rows: list[dict]) -> list[str]:
    """A precision the CPU emulates has no row: its matmuls are PyTorch's emulation, not a limit
    of the CPU."""
    fine = {r["precision"]: r for r in fine_rows}
    return _table(["precision", "peak GFLOP/s", "ceiling seg/s", "measured seg/s",
                   "share of roofline"],
                  [[p, _f(g), _f(line["ceiling_segments_per_second"][p]),
                    _f(fine.get(p, {}).get("segments_per_second")),
                    _f(fine.get(p, {}).get("roofline_fraction"), 3)]
                   for p, g in line["peak_gflops"].items()
                   if not fine.get(p, {}).get("emulated")])


def newest(results_dir: Path, gpu: bool, isa_limit: str | None = None) -> Path | None:
    """The newest full run (by its date, then name) made with a GPU, or without one, and with
    the CPU held to `isa_limit` (None: not held)."""
    runs = [(json.loads(p.read_text()), p) for p in results_dir.glob("*.json")]
    runs = [(r["date"], p.name, p) for r, p in runs
            if r["profile"] == "full" and bool(r["machine"].get("gpu")) == gpu
            and r["machine"].get("isa_limit") == isa_limit]
    return max(runs)[2] if runs else None


def write(source: Path, target: Path, results_dir: Path = RESULTS,
          gpu_source: Path | None = None) -> None:
    """`target` from the run in `source`. A CPU run gets the GPU column of `gpu_source` (default:
    the newest GPU run in `results_dir`) and the AVX2 section of the newest run held to AVX2
    there; a GPU run, or one held to AVX2, takes its place in the newest CPU run's page (or
    stands alone where there is none)."""
    result = json.loads(source.read_text())
    avx2_source = None
    if result["machine"].get("gpu") or result["machine"].get("isa_limit"):
        cpu_source = newest(results_dir, gpu=False)
        if cpu_source is not None:
            if result["machine"].get("gpu"):
                gpu_source = source
            else:
                avx2_source = source
            source, result = cpu_source, json.loads(cpu_source.read_text())
    if not result["machine"].get("gpu"):
        gpu_source = gpu_source or newest(results_dir, gpu=True)
    if not result["machine"].get("isa_limit"):
        avx2_source = avx2_source or newest(results_dir, gpu=False, isa_limit="avx2")
    gpu = json.loads(gpu_source.read_text()) if gpu_source else None
    avx2 = json.loads(avx2_source.read_text()) if avx2_source else None
    target.write_text(render(result, source.resolve(), gpu,
                             gpu_source.resolve() if gpu_source else None, avx2,
                             avx2_source.resolve() if avx2_source else None))


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else newest(RESULTS, gpu=False)
    gpu_source = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    target = ROOT / "BENCHMARKS.md"
    write(source, target, gpu_source=gpu_source)
    print(f"wrote {target} from {source}")


if __name__ == "__main__":
    main()
