"""Deep Lake v3's import paths for names its users import (``deeplake.util.exceptions``,
``deeplake.util.testing``): thin modules that point at deeplake_nb's own objects."""
