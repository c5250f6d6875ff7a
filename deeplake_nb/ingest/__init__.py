"""Transforms (Deep Lake v3's ``@deeplake.compute`` / ``deeplake.compose``): user functions run
over the inputs on a scheduler (``schedulers``), each worker into in-memory output buffers
(``transform_dataset``, ``worker``); the outputs land in the output dataset in input order through
its write protocol, all at once or every ``checkpoint_interval`` inputs (``land``, ``evaluate``).
Workers never write the dataset and never take locks."""

from .compute import Compute, ComputeFunction, Pipeline, compose, compute
from .transform_dataset import TransformDataset, TransformTensor

__all__ = ["Compute", "ComputeFunction", "Pipeline", "TransformDataset", "TransformTensor", "compose", "compute"]
