"""Which compute device a setting of "auto" means on this machine (one rule for every stage)."""

from __future__ import annotations


def resolve_device(name: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'mps' on Apple silicon, else 'cpu'; other names unchanged."""
    if name != "auto":
        return name
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"
