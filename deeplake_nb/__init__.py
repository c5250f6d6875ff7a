"""deeplake_nb: a lakehouse for deep learning on Zarr v3, made for Jupyter."""

from . import errors
from .core.api import dataset, delete, empty, exists, link, load, read
from .core.dataset import Dataset
from .core.tensor import Tensor
from .format.meta import FORMAT_VERSION
from .format.sample import LinkedSample, Sample

__version__ = "0.1.0"

__all__ = ["FORMAT_VERSION", "Dataset", "LinkedSample", "Sample", "Tensor", "dataset", "delete", "empty",
           "errors", "exists", "link", "load", "read"]
