"""Deep Lake v3's import path ``deeplake.core.meta.encode`` (only ``creds`` exists here)."""
