"""Transforms (Deep Lake v3's ``@deeplake.compute`` / ``deeplake.compose``): user functions run
over the inputs on a scheduler (``schedulers``), each worker into in-memory output buffers
(``transform_dataset``, ``worker``); the outputs land in the output dataset in input order through
its write protocol, all at once or every ``checkpoint_interval`` inputs (``land``, ``evaluate``).
Workers never write the dataset and never take locks.

Ingestion from the formats people already have (Deep Lake v3's ``deeplake.ingest_*``), each a
module: ``classification`` (ImageFolder trees; ``kaggle`` downloads one), ``coco`` (+
``coco_annotations``), ``yolo``,
``dataframe`` (pandas, pyarrow, Parquet; ``columns`` maps Arrow types to tensors),
``huggingface`` (both ways); over ``files`` (source folders and files; ``remote`` for object
stores), ``batches`` (large ``ds.extend``
batches with a progress bar, errors naming the input), ``target`` (the destination, removed
when an ingest fails) and ``extras`` (optional packages)."""

from .compute import Compute, ComputeFunction, Pipeline, compose, compute
from .transform_dataset import TransformDataset, TransformTensor
from .classification import ingest_classification
from .coco import ingest_coco
from .dataframe import ingest_dataframe
from .huggingface import ingest_huggingface
from .kaggle import ingest_kaggle
from .yolo import ingest_yolo

__all__ = ["Compute", "ComputeFunction", "Pipeline", "TransformDataset", "TransformTensor", "compose", "compute",
           "ingest_classification", "ingest_coco", "ingest_dataframe", "ingest_huggingface", "ingest_kaggle",
           "ingest_yolo"]
