"""fh-gym: Gymnasium environments for patch-selection face hallucination."""

__version__ = "0.1.0"
