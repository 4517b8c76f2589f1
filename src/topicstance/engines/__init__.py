"""Batch inference engines: `engine.name` in config picks one (conf/engine/<name>.yaml)."""

from topicstance.engines.local import LocalEngine

ENGINES = {"local": LocalEngine}


def build_engine(engine_cfg):
    if engine_cfg.name not in ENGINES:
        raise ValueError(f"unknown engine {engine_cfg.name!r}; known: {sorted(ENGINES)}")
    return ENGINES[engine_cfg.name](batch_size=int(engine_cfg.batch_size))
