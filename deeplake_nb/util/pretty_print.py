"""Deep Lake v3's import path ``deeplake.util.pretty_print``: the tables ``ds.summary()`` and
``t.summary()`` print (``core.summary``)."""

from ..core.summary import dataset_table as summary_dataset
from ..core.summary import tensor_table as summary_tensor

__all__ = ["summary_dataset", "summary_tensor"]
