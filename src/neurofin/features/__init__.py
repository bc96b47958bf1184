"""LLM word features: hidden states of chosen transformer blocks at each word's last sub-token, cached.

    loaded   = load_language_model(FeatureSettings(model="HuggingFaceTB/SmolLM2-135M", blocks=[4, 8]))
    values   = extract_word_features(loaded, ["the", "market", "fell"], blocks=[4, 8], context_tokens=512)
    features = story_features(dataset, ["wheretheressmoke"], settings)   # story -> WordFeatures, cached on disk
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
