"""Deep Lake v3's import path ``deeplake.util.shape_interval``: ``ShapeInterval``, what
``Tensor.shape_interval`` returns."""

from ..core.tensor import ShapeInterval

__all__ = ["ShapeInterval"]
