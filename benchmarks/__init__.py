"""`make bench`: speed, memory and scale of every model family and of the whole job, measured
in one run on the same texts, beside the naive baseline and the CPU's matrix-multiply roofline.

`python -m benchmarks [hydra overrides]` runs it (config: conf/bench.yaml, sizes from
conf/budget/), writes `benchmarks/results/<date>-<host>[-quick].json` and regenerates
BENCHMARKS.md from it; `python -m benchmarks.report [results.json]` only regenerates.
"""
