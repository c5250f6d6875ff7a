"""deeplake_nb: a lakehouse for deep learning on Zarr v3, made for Jupyter."""

from . import errors, gpu  # gpu: cheap; CuPy, DALI and torch load only when used
from .core.api import (connect, copy, dataset, deepcopy, delete, empty, exists, gc, like, link, link_tiled, load, read,
                       rename, tiled)
from .core.api import list_datasets as list  # noqa: A004 - v3's deeplake.list
from .core.dataset import Dataset
from .core.export import export_zarr
from .core.seed import DeeplakeRandom as _DeeplakeRandom
from .core.tensor import Tensor
from .format.htypes import COMPRESSIONS as compressions, NAMES as htypes  # the lists v3 shows as dl.compressions / dl.htypes
from .format.meta import FORMAT_VERSION
from .format.sample import LinkedSample, Sample
from .ingest import compose, compute  # Deep Lake v3 transforms: @dl.compute, dl.compose
from .ingest import (ingest_classification, ingest_coco, ingest_dataframe, ingest_huggingface,  # noqa: E402
                     ingest_kaggle, ingest_yolo)  # Deep Lake v3's deeplake.ingest_*
# the methods of Dataset declared in core.extensions, provided by the packages implementing them
from .ingest import huggingface as _hf; _hf.install()  # noqa: E402,E702 - ds.to_huggingface
from . import loader; loader.install()  # noqa: E402,E702 - ds.pytorch / ds.dataloader / ds.numpy_batches ...
from . import ui; ui.install()  # noqa: E402,E702 - ds.visualize / ds.commit_graph
from . import query; query.install()  # noqa: E402,E702 - ds.query / ds.filter / saved views (TQL)
from . import api  # noqa: E402 - Deep Lake v3's deeplake.api (deeplake.api.info.Info)
from .core import storage as _v3_storage; _v3_storage.install()  # noqa: E402,E702 - v3's ds.storage

random = _DeeplakeRandom()  # Deep Lake v3's deeplake.random: dl.random.seed(0)

from ._version import __version__  # noqa: E402 - also recorded in new datasets (ds.meta.version)

__all__ = ["FORMAT_VERSION", "Dataset", "LinkedSample", "Sample", "Tensor", "__version__", "api", "compose",
           "compressions", "compute", "connect", "copy", "dataset", "deepcopy", "delete", "empty", "errors", "exists", "export_zarr", "gc", "gpu",
           "htypes", "ingest_classification", "ingest_coco", "ingest_dataframe", "ingest_huggingface", "ingest_kaggle",
           "ingest_yolo", "like", "link", "link_tiled", "list", "load", "loader", "query", "random", "read", "rename", "tiled", "ui"]
