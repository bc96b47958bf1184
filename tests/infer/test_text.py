"""Comment text -> words: defined outputs for empty, emoji-only, huge, markup and non-English texts."""

import pytest

from neurofin.infer.text import comment_words


@pytest.mark.parametrize(
    "text,words",
    [
        ("Buying $TSLA calls, it's going to the moon!", ["buying", "tsla", "calls", "it's", "going", "to", "the", "moon"]),
        ("**DD** on [Apple](https://apple.com) see https://x.com/a", ["dd", "on", "apple", "see"]),
        ("Die Aktie fällt 🚀🚀 heute", ["die", "aktie", "fällt", "heute"]),
        ("株価が上がる 100%", ["株価が上がる", "100"]),
        ("MOON!!! (really) “don’t” sell... long-term", ["moon", "really", "don't", "sell", "long-term"]),
    ],
)
def test_words(text, words):
    out = comment_words(text)
    assert out.words == words and out.error is None and not out.truncated


@pytest.mark.parametrize("text", ["", "   ", "🚀🚀🚀 💎🙌", "*** >", None, 12.5])
def test_unusable_texts_get_an_error_not_an_exception(text):
    out = comment_words(text)
    assert out.words == [] and out.error


def test_huge_text_is_truncated_and_flagged():
    out = comment_words("word " * 10_000, max_words=100)
    assert len(out.words) == 100 and out.truncated and out.error is None
