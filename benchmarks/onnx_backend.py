"""ONNX Runtime as the fine-tuned model's inference backend: the network exported to ONNX, run
with every graph optimisation, at fp32 and at int8 (dynamic quantization of its MatMuls, which
uses VNNI where the CPU has it). Tokenizing, batching, pooling and heads stay the model's own,
so its rows differ from the torch rows only in what runs the network."""

import time
import warnings
from pathlib import Path

import torch

from topicstance.models.minilm import MiniLMFinetuneModel


def export(model: MiniLMFinetuneModel, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "network.onnx"
    sample = model.tokenizer(["Sanctions were tightened.", "Troops"], padding=True,
                             return_tensors="pt")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.network.eval(), (sample["input_ids"], sample["attention_mask"]),
                          str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["topic_logits", "stance_logits"],
                          dynamic_axes={name: {0: "batch", 1: "tokens"}
                                        for name in ("input_ids", "attention_mask")})
    return path


class OnnxRuntimeFinetune(MiniLMFinetuneModel):
    """A fitted fine-tuned model whose network runs in an ONNX Runtime session."""

    @classmethod
    def from_model(cls, model: MiniLMFinetuneModel, onnx_file: Path, precision: str,
                   threads: int) -> "OnnxRuntimeFinetune":
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        if precision == "int8":
            quantized = onnx_file.with_suffix(".int8.onnx")
            quantize_dynamic(str(onnx_file), str(quantized), weight_type=QuantType.QInt8)
            onnx_file = quantized
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        runner = cls.__new__(cls)
        runner.__dict__.update(model.__dict__)
        runner.params = dict(model.params)
        runner.precision, runner.precision_reason = "fp32", f"onnxruntime {precision}"
        started = time.perf_counter()
        runner.session = onnxruntime.InferenceSession(str(onnx_file), options,
                                                      providers=["CPUExecutionProvider"])
        runner.load_seconds = round(time.perf_counter() - started, 2)
        return runner

    def _inference_module(self, module):
        return self._run

    def _run(self, input_ids, attention_mask, **_):
        topics, stance = self.session.run(None, {"input_ids": input_ids.numpy(),
                                                 "attention_mask": attention_mask.numpy()})
        return torch.from_numpy(topics), torch.from_numpy(stance)
