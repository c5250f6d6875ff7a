"""The demo job (``python -m deeplake_nb.demo``) and its synthetic data generator."""
