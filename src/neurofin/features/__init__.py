"""LLM word features: hidden states of chosen transformer blocks at each word's last sub-token, cached.

    loaded   = load_language_model(FeatureSettings(model="HuggingFaceTB/SmolLM2-135M", blocks=[4, 8]))
    values   = extract_word_features(loaded, ["the", "market", "fell"], blocks=[4, 8], context_tokens=512)
    features = story_features(dataset, ["wheretheressmoke"], settings)   # story -> WordFeatures, cached on disk
"""

from neurofin.features.cache import WordFeatures, default_cache_dir, story_features, transcript_features
from neurofin.features.extract import extract_many, extract_word_features
from neurofin.features.model import LoadedModel, load_language_model

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
