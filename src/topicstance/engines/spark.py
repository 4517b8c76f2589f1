"""Batch inference on Spark: executors segment the pages and classify the segments.

The driver (the prediction job) still lists and filters the input, reads the pages it decided
to process and commits each batch as one Parquet part (see `topicstance.outputs`); a batch goes
to Spark as a DataFrame of whole pages. `mapInPandas` over the pickled segmenter cuts them into
segments on the executors, and `mlflow.pyfunc.spark_udf` on the exact registered version
classifies them there, each executor loading the model once. A page's segments stay together in
one partition, so the model reads each article whole while a partition holds fewer segments than
`spark.sql.execution.arrow.maxRecordsPerBatch` (10,000 by default; a batch of pages is far
below it). `engine.master` may be `local[*]`
or a cluster URL (`spark://`, `yarn`, `k8s://`); null keeps what `spark-submit` set.
"""

import functools
import logging
import os
import sys
from collections.abc import Iterator

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.functions import struct
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import StructField, StructType

from topicstance import tracking
from topicstance.outputs import segment_schema
from topicstance.segment import Segmenter

PAGE_COLUMNS = ["page", "article_id", "text", "source", "ready_cut", "content_hash", "run_id"]
PAGE_SCHEMA = ("page long, article_id string, text string, source string, ready_cut boolean, "
               "content_hash string, run_id string")
SEGMENT_SCHEMA = ("page long, position long, article_id string, segment_id string, text string, "
                  "start long, end long, headline string, previous string, source string, "
                  "content_hash string, run_id string")
SEGMENT_COLUMNS = [c.split()[0] for c in SEGMENT_SCHEMA.split(", ")]


class SparkEngine:
    def __init__(self, session: SparkSession, segmenter: Segmenter, model_uri: str,
                 output_columns: list[str]):
        self.session, self.segmenter, self.output_columns = session, segmenter, output_columns
        self.classify = tracking.spark_udf(session, model_uri, result_type(output_columns))

    @classmethod
    def from_config(cls, cfg, segmenter: Segmenter, model_uri: str, output_columns: list[str]):
        return cls(start_session(cfg), segmenter, model_uri, output_columns)

    def describe(self) -> dict:
        context = self.session.sparkContext
        return {"engine": "spark", "master": context.master, "app_id": context.applicationId,
                "default_parallelism": context.defaultParallelism}

    def rows(self, pages: list[dict]) -> list[dict]:
        """Whole pages: the executors segment them, so a batch is bounded by pages."""
        return list(pages)

    def run(self, pages: pd.DataFrame) -> pd.DataFrame:
        """Segment rows with the model's outputs, in page order then segment order (as the
        local engine gives them)."""
        frame = self.session.createDataFrame(pages.assign(page=range(len(pages)))[PAGE_COLUMNS],
                                             schema=PAGE_SCHEMA)
        segments = frame.mapInPandas(functools.partial(segment_pages, self.segmenter),
                                     schema=SEGMENT_SCHEMA)
        predicted = (segments
                     .withColumn("prediction", self.classify(struct("text", "headline",
                                                                    "previous", "article_id")))
                     .select(*SEGMENT_COLUMNS, *[f"prediction.`{c}`" for c in self.output_columns]))
        result = predicted.toPandas().sort_values(["page", "position"], ignore_index=True)
        result["topics"] = result["topics"].map(list)
        return result.drop(columns=["page", "position"])

    def close(self) -> None:
        self.session.stop()


def segment_pages(segmenter: Segmenter, batches: Iterator[pd.DataFrame]
                  ) -> Iterator[pd.DataFrame]:
    """Runs on the executors: pages in, segment rows out."""
    for pages in batches:
        rows = []
        page_rows = segmenter.rows(list(zip(pages.article_id, pages.text, pages.source,
                                            pages.ready_cut)))
        for page, segments in zip(pages.itertuples(index=False), page_rows):
            for position, row in enumerate(segments):
                rows.append({**row, "page": page.page, "position": position,
                             "source": page.source, "content_hash": page.content_hash,
                             "run_id": page.run_id})
        yield pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def result_type(output_columns: list[str]) -> StructType:
    """The pyfunc's output as a Spark struct, with the types the output parts store."""
    schema = segment_schema(output_columns)
    return StructType([StructField(c, from_arrow_type(schema.field(c).type))
                       for c in output_columns])


def start_session(cfg) -> SparkSession:
    """A session from `conf/engine/spark.yaml`. Python workers run this interpreter (unless
    `engine.python` names another), so they import the same packages as the driver."""
    os.environ["PYSPARK_PYTHON"] = cfg.python or sys.executable
    if cfg.local_ip:
        os.environ.setdefault("SPARK_LOCAL_IP", cfg.local_ip)
    builder = SparkSession.builder.appName(cfg.app_name)
    if cfg.master:
        builder = builder.master(cfg.master)
    for key, value in (cfg.conf or {}).items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(cfg.log_level)
    logging.getLogger("py4j").setLevel(cfg.log_level)  # its INFO lines would follow the record
    return session
