"""The jobs as plain functions of a composed Hydra config: what the CLIs and the tests call."""
