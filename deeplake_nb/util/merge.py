"""Deep Lake v3's import path ``deeplake.util.merge``: v3's chunk-level merge internals, which
deeplake_nb does not have (it merges samples by their hidden ids: ``ds.merge``)."""

from . import unsupported_function

_get_required_chunks_for_range = unsupported_function(
    "deeplake.util.merge._get_required_chunks_for_range (v3's chunk engine)",
    "deeplake_nb merges samples by their hidden ids with ds.merge(); there are no v3 chunks to select.")
