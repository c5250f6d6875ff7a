"""Deep Lake v3's import path ``deeplake.util.keys``: v3's storage key layout, which deeplake_nb
does not have (its objects are described in ``deeplake_nb.version``)."""

from . import unsupported_function

get_commit_info_key = unsupported_function(
    "deeplake.util.keys.get_commit_info_key (v3's per-commit info object)",
    "a deeplake_nb commit is one immutable object; read it with ds.get_commit_details(commit_id).")
