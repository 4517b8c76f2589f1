"""The naive baseline: what a user writes first. A transformers pipeline over the same
fine-tuned weights, one segment at a time, fp32: no batching, no length sorting, no context.
On the device the model runs on (the GPU where there is one), as a user's pipeline would."""

import time

import numpy as np
import torch
from transformers import pipeline


def naive_baseline(finetuned, texts: list[str], threads: int, passes: int = 1) -> dict:
    """Time `finetuned`'s encoder in a `feature-extraction` pipeline, its mean pooling and heads
    applied per segment, in `passes` passes over `texts`, the fastest kept (as every other speed
    of the bench: every `x naive` divides by it, and one pass of a few seconds on a shared VM
    is as easily disturbed as any other); also how far its probabilities are from the model's
    own fp32 path (the same weights, so they should agree to rounding)."""
    torch.set_num_threads(threads)
    network = finetuned.network.eval()
    extract = pipeline("feature-extraction", model=network.encoder, tokenizer=finetuned.tokenizer,
                       device=finetuned.device, return_tensors=True,
                       tokenize_kwargs={"truncation": True,
                                        "max_length": int(finetuned.params["max_length"])})
    extract(texts[0])  # warm-up
    fastest = None
    with torch.inference_mode():
        for _ in range(passes):
            stance_probabilities, latencies = [], []
            for text in texts:
                began = time.perf_counter()
                pooled = extract(text).mean(dim=1).to(finetuned.device)  # one text, no padding: mean pooling
                torch.sigmoid(network.topic_head(pooled))
                stance = torch.softmax(network.stance_head(pooled), -1)[0].cpu().numpy()
                stance_probabilities.append(stance)
                latencies.append(time.perf_counter() - began)
            if fastest is None or sum(latencies) < sum(fastest):
                fastest = latencies
    finetuned.set_precision("fp32")
    _, reference = finetuned.predict_scores(texts)
    finetuned.set_precision("auto")
    return {"segments": len(texts), "precision": "fp32", "batch": 1, "device": finetuned.device,
            "passes": passes, "segments_per_second": round(len(texts) / sum(fastest), 1),
            "latency_ms_p50": round(1000 * float(np.percentile(fastest, 50)), 1),
            "latency_ms_p95": round(1000 * float(np.percentile(fastest, 95)), 1),
            "max_abs_diff_vs_model_fp32": float(np.abs(np.array(stance_probabilities)
                                                       - reference).max())}
