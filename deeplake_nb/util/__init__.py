"""Deep Lake v3's import paths (``deeplake.util.exceptions``, ``deeplake.util.testing``,
``deeplake.core.storage`` ...): thin modules that point at deeplake_nb's own objects.

Names of v3 internals or cloud features that deeplake_nb has no equivalent of exist too, so that
code importing them still imports; calling one raises ``UnsupportedFeatureError`` (also a
``NotImplementedError``) naming the v3 feature and what deeplake_nb offers instead.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

from ..errors import UnsupportedFeatureError


def unsupported(v3_name: str, instead: str) -> UnsupportedFeatureError:
    """The error for using Deep Lake v3's ``v3_name``; ``instead`` says what to do here."""
    return UnsupportedFeatureError(f"{v3_name} is a Deep Lake v3 feature that deeplake_nb does not have; {instead}")


def unsupported_function(v3_name: str, instead: str) -> Callable[..., NoReturn]:
    """A function named like v3's ``v3_name`` (``"deeplake.util.keys.get_commit_info_key"``)
    that raises ``unsupported(v3_name, instead)`` whatever it is given."""

    def function(*args: Any, **kwargs: Any) -> NoReturn:
        raise unsupported(v3_name, instead)

    function.__name__ = function.__qualname__ = v3_name.rsplit(".", 1)[-1]
    function.__doc__ = f"Deep Lake v3's ``{v3_name}``; not in deeplake_nb ({instead}): raises UnsupportedFeatureError."
    return function
