"""Deep Lake v3's import path ``deeplake.core.meta`` (only ``encode.creds`` exists here)."""
