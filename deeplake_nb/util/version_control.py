"""Deep Lake v3's import path ``deeplake.util.version_control``: v3's repairs of its
``version_control_info.json``, which deeplake_nb does not have."""

from . import unsupported_function

integrity_check = unsupported_function(
    "deeplake.util.version_control.integrity_check",
    "deeplake_nb checks what it reads as it reads it (damaged data raises DatasetError or VersionError); "
    "dl.load(path, reset=True) reopens a branch whose uncommitted state cannot be read at its last commit.")
rebuild_version_info = unsupported_function(
    "deeplake.util.version_control.rebuild_version_info",
    "deeplake_nb keeps no version_control_info.json to rebuild: branches, tags and commits are separate "
    "immutable objects; dl.load(path, reset=True) recovers a branch whose uncommitted state is unreadable.")
