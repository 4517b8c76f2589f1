"""`make bench`: speed, memory and scale of every model family and of the whole job, measured
in one run on the same texts, beside the naive baseline and the CPU's matrix-multiply roofline.

`python -m benchmarks [hydra overrides]` runs it (config: conf/bench.yaml, sizes from
conf/budget/), writes `benchmarks/results/<date>-<host>[-quick][-avx2].json` and regenerates
BENCHMARKS.md from it; `python -m benchmarks.report [results.json]` only regenerates.
"""

import os

# One bench process runs a dozen encoder copies at three precisions after a fine-tune's
# training: more shapes than oneDNN's primitive cache holds (1,024), so later rows paid for
# re-creating primitives that a job with one model keeps (with the capacity at 1, inference ran
# 20% slower; at 8,192 the fine-tuned rows of a reduced bench ran 20-40% faster than at the
# default). Read when oneDNN starts, so set before torch is imported.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8192")
