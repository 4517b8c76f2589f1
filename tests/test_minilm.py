"""MiniLM families: offline loading from the package folder, a tiny fine-tune, pyfunc round trips."""

import os

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModel, AutoTokenizer
from transformers.activations import GELUActivation

from conftest import tiny_corpus
from topicstance import tracking
from topicstance.config import CONF_DIR, packaged_minilm
from topicstance.corpus import LabeledSplit
from topicstance.labels import Taxonomy
from topicstance.models import build_model, cpu_attention
from topicstance.models.cpu_attention import use_lane_padded_attention
from topicstance.models.cpu_linear import (
    FusedLinear,
    InPlaceGELU,
    fused_linear_supported,
    use_fused_linear,
)

TAXONOMY = Taxonomy.from_config(OmegaConf.load(CONF_DIR / "labels" / "default.yaml"))
# Small and fast: short inputs, one epoch, tiny batches.
TINY = {"seed": 13, "max_length": 48, "batch_size": 8, "train_batch_size": 8, "max_epochs": 1, "threads": 2}


def _split(records) -> LabeledSplit:
    return LabeledSplit([r["text"] for r in records],
                        TAXONOMY.topics_to_matrix([r["topics"] for r in records]),
                        TAXONOMY.stances_to_index([r["stance"] for r in records]))


def _model(family: str, **overrides):
    cfg = OmegaConf.load(CONF_DIR / "model" / f"{family}.yaml")
    cfg.pretrained_path = packaged_minilm()
    for key, value in {**TINY, **overrides}.items():
        if key in cfg:
            cfg[key] = value
    return build_model(cfg, TAXONOMY)


@pytest.fixture(scope="module")
def splits():
    rows = tiny_corpus(n_articles=6, prefix="mini")
    return _split(rows[:24]), _split(rows[24:])


def test_default_pretrained_path_is_the_packaged_minilm_and_loads_offline():
    path = packaged_minilm()
    assert os.path.isfile(os.path.join(path, "config.json"))
    assert os.path.isfile(os.path.join(path, "model.safetensors"))
    tokenizer, encoder = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    with torch.inference_mode():
        hidden = encoder(**tokenizer(["Sanctions were tightened."], return_tensors="pt"))
    assert hidden.last_hidden_state.shape[-1] == encoder.config.hidden_size == 384
    resolved = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / "minilm_linear.yaml"),
                                      resolve=True)
    assert resolved["pretrained_path"] == path


def test_a_missing_pretrained_folder_is_named_not_looked_up_on_a_hub(splits, tmp_path):
    train, dev = splits
    model = _model("minilm_linear")
    model.params["pretrained_path"] = str(tmp_path / "no-such-checkpoint")
    with pytest.raises(FileNotFoundError, match="no Hugging Face model folder at .*no-such-"):
        model.fit(train, dev)


def test_batches_by_token_count_give_each_text_its_own_embedding():
    """Texts are tokenized, sorted by token count and padded per batch: every text still gets
    what it gets alone (padding masked out), in the order given."""
    model = _model("minilm_linear", batch_size=3, precision="fp32")
    model._load_encoder(packaged_minilm())
    texts = ["Sanctions.", "The EU agreed a new package of sanctions on Russian banks today.",
             "Troops moved.", "A court in Moscow sentenced a journalist on espionage charges.",
             "Kyiv said the strike hit a power plant in the east of the country overnight.",
             "Parliament votes."]
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(model.embed(texts[::-1]), together[::-1], atol=1e-5)


def test_the_inference_batch_is_smaller_on_the_cpu_than_on_a_gpu():
    """16 texts keep a CPU batch's activations in cache; a GPU needs 64 to be busy. A model saved
    before `gpu_batch_size` existed keeps its one `batch_size` on both."""
    for family in ("minilm_linear", "minilm_finetune", "zeroshot"):
        cfg = OmegaConf.load(CONF_DIR / "model" / f"{family}.yaml")
        assert (cfg.batch_size, cfg.gpu_batch_size) == (16, 64), family
    model = _model("minilm_finetune")
    model.params.update(batch_size=16, gpu_batch_size=64)
    assert (model.inference_batch_size("cpu"), model.inference_batch_size("cuda")) == (16, 64)
    del model.params["gpu_batch_size"]
    assert model.inference_batch_size("cuda") == 16


@pytest.mark.slow
def test_minilm_linear_fits_and_survives_a_pyfunc_round_trip(splits, tmp_path):
    train, dev = splits
    model = _model("minilm_linear")
    model.fit(train, dev)
    topic_scores, stance_scores = model.predict_scores(dev.texts)
    assert topic_scores.shape == (len(dev), len(TAXONOMY.topics))
    np.testing.assert_allclose(stance_scores.sum(axis=1), 1.0, atol=1e-5)
    _assert_pyfunc_round_trip(model, dev.texts, tmp_path)


@pytest.mark.slow
def test_tiny_finetune_learns_and_survives_a_pyfunc_round_trip(splits, tmp_path):
    train, dev = splits
    epochs = []
    model = _model("minilm_finetune", max_epochs=2, patience=2)
    model.fit(train, dev, on_epoch=lambda metrics, step: epochs.append((step, metrics)))
    assert [step for step, _ in epochs] == [1, 2]
    assert {"epoch/train_loss", "epoch/topic_macro_f1", "epoch/stance_macro_f1"} <= set(epochs[0][1])
    assert epochs[1][1]["epoch/train_loss"] < epochs[0][1]["epoch/train_loss"]
    _assert_pyfunc_round_trip(model, dev.texts, tmp_path)


def test_a_smaller_student_keeps_its_first_layers_through_save_and_load(splits, tmp_path):
    train, dev = splits
    model = _model("minilm_finetune", max_epochs=1, encoder_layers=2)
    model.fit(train, dev)
    assert len(model.network.encoder.encoder.layer) == 2
    _assert_pyfunc_round_trip(model, dev.texts, tmp_path)  # reloaded as a 2-layer encoder


@pytest.mark.slow
def test_finetune_is_reproducible_with_a_fixed_seed(splits):
    train, dev = splits
    scores = []
    for _ in range(2):
        model = _model("minilm_finetune")
        model.fit(train, dev)
        scores.append(model.predict_scores(dev.texts[:6])[0])
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)


@pytest.mark.slow
def test_int8_and_bf16_stay_close_to_fp32(splits):
    train, dev = splits
    model = _model("minilm_linear")
    model.fit(train, dev)
    model.set_precision("fp32")  # `auto` (the config's) is bf16 on a CPU with native bf16
    fp32_topics, fp32_stance = model.predict_scores(dev.texts)
    for precision in ("int8", "bf16"):
        model.set_precision(precision)
        topics, stance = model.predict_scores(dev.texts)
        assert np.abs(topics - fp32_topics).max() < 0.15, precision
        assert np.abs(stance - fp32_stance).max() < 0.15, precision
    # the bf16 and int8 paths run on copies: the model's own weights stay fp32
    assert next(model.encoder.parameters()).dtype == torch.float32
    model.set_precision("fp32")
    np.testing.assert_allclose(model.predict_scores(dev.texts)[0], fp32_topics, atol=1e-6)
    with pytest.raises(ValueError):
        model.set_precision("fp8")


def _assert_pyfunc_round_trip(model, texts, tmp_path):
    """Logged, reloaded through MLflow, the model gives the in-memory model's scores."""
    tracking.configure(OmegaConf.create({
        "uri": f"sqlite:///{tmp_path}/mlflow.db", "experiment": "minilm-test",
        "artifact_location": str(tmp_path / "artifacts")}))
    with mlflow.start_run():
        uri = tracking.log_model(model, texts[:3])
    loaded = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
    expected = model.predict_frame(texts)
    for column in [c for c in expected.columns if c.startswith(("score_", "prob_"))]:
        np.testing.assert_allclose(loaded[column].to_numpy(), expected[column].to_numpy(), atol=1e-5)
    assert loaded["stance"].tolist() == expected["stance"].tolist()
    assert [list(t) for t in loaded["topics"]] == [list(t) for t in expected["topics"]]


@pytest.mark.slow
def test_ensemble_averages_its_members_and_survives_a_pyfunc_round_trip(splits, tmp_path):
    train, dev = splits
    cfg = OmegaConf.load(CONF_DIR / "model" / "tfidf_minilm.yaml")
    members = {name: OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")
               for name in ("tfidf_linear", "minilm_finetune")}
    members["minilm_finetune"].pretrained_path = packaged_minilm()
    for key, value in TINY.items():
        members["minilm_finetune"][key] = value
    model = build_model(OmegaConf.create({"family": cfg.family, "members": members}), TAXONOMY)
    model.fit(train, dev)
    topics, stances = model.predict_scores(dev.texts)
    member_scores = [m.predict_scores(dev.texts) for m in model.members.values()]
    np.testing.assert_allclose(topics, np.mean([t for t, _ in member_scores], axis=0), atol=1e-6)
    np.testing.assert_allclose(stances, np.mean([s for _, s in member_scores], axis=0), atol=1e-6)
    _assert_pyfunc_round_trip(model, dev.texts, tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no GPU visible to torch (the pinned torch is the CPU wheel)")
def test_on_a_gpu_the_finetune_trains_there_int8_runs_on_the_cpu_and_it_loads_without_one(
        splits, tmp_path):
    """Runs only where torch sees a GPU (never in CI): `pytest tests/test_minilm.py -k gpu`."""
    import json
    import subprocess
    import sys

    from conftest import clean_subprocess_env

    train, dev = splits
    model = _model("minilm_finetune", precision="int8")
    model.fit(train, dev)  # dev metrics on the live GPU network, the int8 check on a CPU copy
    assert model.device == "cuda" and {"fp32", "int8"} <= set(model.params["int8_check"])
    ran_on = {}
    for precision in ("auto", "fp32", "bf16", "int8"):
        model.set_precision(precision)
        assert len(model.predict_frame(dev.texts)) == len(dev)
        ran_on[precision] = model.inference_settings()["device"]
    assert ran_on == {"auto": "cuda", "fp32": "cuda", "bf16": "cuda", "int8": "cpu"}

    model.set_precision("auto")
    model.save(tmp_path / "model")
    load = ("import json, sys; from pathlib import Path; from topicstance.models import load_model; "
            "m = load_model(Path(sys.argv[1])); m.predict_frame(['Kyiv said talks resume.']); "
            "print(json.dumps(m.inference_settings()))")
    child = subprocess.run([sys.executable, "-c", load, str(tmp_path / "model")], check=True,
                           capture_output=True, text=True,
                           env={**clean_subprocess_env(), "CUDA_VISIBLE_DEVICES": ""})
    assert json.loads(child.stdout.strip().splitlines()[-1])["device"] == "cpu"


def test_lane_padded_attention_matches_sdpa_on_a_padded_batch():
    path = packaged_minilm()
    tokenizer = AutoTokenizer.from_pretrained(path)
    reference = AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    padded = use_lane_padded_attention(AutoModel.from_pretrained(path).eval())
    assert padded.config._attn_implementation == cpu_attention.NAME
    # three lengths in one batch: padding inside the batch and keys padded to whole vectors
    texts = ["Sanctions.", "The EU adopted its 14th package of sanctions against Russia today.",
             "Kyiv said the strike hit a power plant; Moscow said it targeted military sites " * 3]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = reference(**batch).last_hidden_state
        got = padded(**batch).last_hidden_state
        unpadded = padded(**tokenizer(texts[:1], return_tensors="pt")).last_hidden_state
    tokens = batch["attention_mask"].bool()
    np.testing.assert_allclose(got[tokens], expected[tokens], atol=1e-5)
    np.testing.assert_allclose(unpadded[0], expected[0, :unpadded.shape[1]], atol=1e-5)


def test_only_the_cpu_inference_copies_use_the_lane_padded_attention():
    model = _model("minilm_linear")
    model._load_encoder(packaged_minilm())
    for precision in ("bf16", "int8"):
        model.set_precision(precision)
        copy = model._inference_module(model.encoder)
        assert copy.config._attn_implementation == cpu_attention.NAME, precision
    # the live fp32 encoder (the one a fine-tune trains) keeps its differentiable attention
    assert model.encoder.config._attn_implementation == "sdpa"
    model.params["cpu_attention"] = "sdpa"  # the fused kernel, by configuration
    model.set_precision("bf16")
    assert model._inference_module(model.encoder).config._attn_implementation == "sdpa"
    model.params["cpu_attention"] = "flash"
    with pytest.raises(ValueError, match="cpu_attention"):
        model.set_precision("bf16")


def test_fused_linear_layers_give_the_plain_layers_hidden_states():
    """oneDNN's linear with the bias and the feed-forward GELU fused in: the same hidden states
    as the plain encoder at fp32, and at bf16 no further from fp32 than plain bf16 is."""
    path = packaged_minilm()
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts = ["Sanctions.", "The EU adopted its 14th package of sanctions against Russia today.",
             "Kyiv said the strike hit a power plant; Moscow said it targeted military sites " * 3]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    tokens = batch["attention_mask"].bool()
    plain = AutoModel.from_pretrained(path).eval()
    fused = use_fused_linear(AutoModel.from_pretrained(path).eval())
    layer = fused.encoder.layer[0]
    assert isinstance(layer.attention.self.query, FusedLinear)
    assert layer.intermediate.dense.activation == "gelu"  # the GELU runs inside the linear
    assert isinstance(layer.intermediate.intermediate_act_fn, torch.nn.Identity)
    with torch.inference_mode():
        expected = plain(**batch).last_hidden_state[tokens]
        np.testing.assert_allclose(fused(**batch).last_hidden_state[tokens], expected, atol=1e-4)
        if fused_linear_supported(torch.bfloat16):
            plain_bf16 = AutoModel.from_pretrained(path).eval().to(torch.bfloat16)
            fused_bf16 = use_fused_linear(AutoModel.from_pretrained(path).eval().to(torch.bfloat16))
            plain_error = (plain_bf16(**batch).last_hidden_state[tokens].float() - expected).abs()
            fused_error = (fused_bf16(**batch).last_hidden_state[tokens].float() - expected).abs()
            assert fused_error.mean() < 1.2 * plain_error.mean()


def test_the_int8_copy_runs_the_same_gelu_in_place():
    """The quantized layers have no fused activation, so the int8 copy's feed-forward GELU runs
    over the layer's output in place (no fresh 30+ MB buffer per call): the same embeddings as
    out of place, and the live encoder untouched."""
    model = _model("minilm_linear")
    model._load_encoder(packaged_minilm())
    texts = ["Sanctions.", "The EU adopted its 14th package of sanctions against Russia today.",
             "Kyiv said the strike hit a power plant; Moscow said it targeted military sites " * 3]
    model.set_precision("int8")
    in_place = model.embed(texts)
    layers = model._inference_module(model.encoder).encoder.layer
    assert all(isinstance(layer.intermediate.intermediate_act_fn, InPlaceGELU) for layer in layers)
    with torch.inference_mode():  # the same copy with its GELU out of place again
        for layer in layers:
            layer.intermediate.intermediate_act_fn = GELUActivation()
        np.testing.assert_array_equal(model.embed(texts), in_place)
    assert type(model.encoder.encoder.layer[0].intermediate.intermediate_act_fn) is GELUActivation


def test_only_the_cpu_inference_copies_use_the_fused_linear_layers():
    model = _model("minilm_linear")
    model._load_encoder(packaged_minilm())
    precisions = ["fp32"] + (["bf16"] if fused_linear_supported(torch.bfloat16) else [])
    for precision in precisions:
        model.set_precision(precision)
        inference = model._inference_module(model.encoder)
        assert inference is not model.encoder, precision  # a copy, at fp32 too
        assert isinstance(inference.encoder.layer[0].output.dense, FusedLinear), precision
        assert model.inference_settings()["cpu_linear"] == "fused", precision
    model.set_precision("int8")  # quantized layers, not oneDNN's
    assert not any(isinstance(m, FusedLinear) for m in model._inference_module(model.encoder).modules())
    # the live encoder (the one a fine-tune trains) keeps its differentiable layers
    assert isinstance(model.encoder.encoder.layer[0].output.dense, torch.nn.Linear)
    assert model.inference_settings()["cpu_linear"] == "quantized (int8)"
    model.params["cpu_linear"] = "plain"
    model.set_precision("fp32")
    inference = model._inference_module(model.encoder)
    assert not any(isinstance(m, FusedLinear) for m in inference.modules())
    assert model.inference_settings()["cpu_linear"] == "plain"  # in every run record
    model.params["cpu_linear"] = "mkl"
    with pytest.raises(ValueError, match="cpu_linear"):
        model.set_precision("fp32")
