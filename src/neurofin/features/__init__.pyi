"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .cache import WordFeatures, default_cache_dir, story_features, transcript_features
from .extract import extract_many, extract_word_features
from .model import LoadedModel, load_language_model

__all__ = [
    "LoadedModel",
    "WordFeatures",
    "default_cache_dir",
    "extract_many",
    "extract_word_features",
    "load_language_model",
    "story_features",
    "transcript_features",
]
