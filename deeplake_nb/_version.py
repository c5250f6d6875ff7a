"""The library's version (``dl.__version__``), in a module of its own so that the layers below the
package root can read it; new datasets record it in their root document (``ds.meta.version``)."""

__version__ = "0.1.0"
