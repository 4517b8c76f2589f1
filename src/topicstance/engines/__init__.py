"""Batch inference engines: `engine.name` in config picks one (conf/engine/<name>.yaml).

An engine turns pages into classified segment rows. The prediction job hands it each page it
decided to process (`rows`), then each batch of what it returned (`run`); it never sees the
model itself, only the model URI, so every engine loads the model where it runs: the local
engine in-process, the Spark engine once per executor.
"""

import importlib

from topicstance.segment import Segmenter

# Imported on first use, so the local engine never imports pyspark.
ENGINES = {"local": "topicstance.engines.local:LocalEngine",
           "spark": "topicstance.engines.spark:SparkEngine"}


def build_engine(engine_cfg, segmenter: Segmenter, model_uri: str, output_columns: list[str]):
    """The engine `engine_cfg.name`, built from its own config keys."""
    if engine_cfg.name not in ENGINES:
        raise ValueError(f"unknown engine {engine_cfg.name!r}; known: {sorted(ENGINES)}")
    module, name = ENGINES[engine_cfg.name].split(":")
    engine_class = getattr(importlib.import_module(module), name)
    return engine_class.from_config(engine_cfg, segmenter, model_uri, output_columns)
