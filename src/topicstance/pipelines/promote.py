"""Move the serving alias (`champion`) to a chosen registered version, by hand."""

from omegaconf import DictConfig

from topicstance import tracking


def promote(cfg: DictConfig) -> dict:
    if bool(cfg.run) == (cfg.version is not None):
        raise ValueError("give either run=<training run id> or version=<version number>")
    tracking.configure(cfg.tracking)
    result = tracking.promote(cfg.tracking.registered_model, cfg.tracking.alias, by=str(cfg.by),
                              reason=str(cfg.reason), run_id=cfg.run or None,
                              version=None if cfg.version is None else str(cfg.version))
    return {"model_uri": result.uri, "alias": cfg.tracking.alias, "moved": result.promoted,
            "detail": result.reason, "by": str(cfg.by), "reason": str(cfg.reason)}
