"""Byte-size constants under Deep Lake v3's names (``from deeplake.constants import MB``)."""

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30
