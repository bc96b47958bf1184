"""Word -> last sub-token alignment across tokenizer families, checked against prefix tokenization."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers_offline import byte_level_bpe, dropping_word_level, metaspace_unigram

from neurofin.features.align import align_words, join_words

WORDS = ["Hello,", "world!", "It's", "3.14", "naïve", "café", "—", "don't", "2,024.", "🙂", "東京", "(end)."]


def expected_last_tokens(tokenizer, words: list[str]) -> list[int]:
    """Independent ground truth: word i's last token is the last token of the text up to word i."""
    return [len(tokenizer(" ".join(words[: i + 1]), add_special_tokens=False)["input_ids"]) - 1 for i in range(len(words))]


@pytest.fixture(scope="module", params=["byte_level_bpe", "metaspace_unigram", "smollm2_gguf"])
def tokenizer(request):
    if request.param == "smollm2_gguf":
        return request.getfixturevalue("smollm2_loaded").tokenizer
    return {"byte_level_bpe": byte_level_bpe, "metaspace_unigram": metaspace_unigram}[request.param]()


def test_last_token_matches_prefix_tokenization(tokenizer) -> None:
    aligned = align_words(tokenizer, WORDS)
    assert aligned.word_token.tolist() == expected_last_tokens(tokenizer, WORDS)
    assert aligned.n_tokens == len(tokenizer(" ".join(WORDS), add_special_tokens=False)["input_ids"])


def test_decoded_text_up_to_each_word_ends_with_that_word(smollm2_loaded) -> None:
    """SmolLM2 (GPT-2 byte-level BPE): tokens up to the aligned one decode to exactly the words so far."""
    tok = smollm2_loaded.tokenizer
    aligned = align_words(tok, WORDS)
    for i, token in enumerate(aligned.word_token):
        assert tok.decode(aligned.ids[: token + 1].tolist()) == " ".join(WORDS[: i + 1])


def test_multi_token_words_take_their_last_piece() -> None:
    """A word split into several pieces (unseen by the small vocab) maps to its final piece, not the first."""
    tok = byte_level_bpe()
    words = ["zyxwv", "qqq's"]
    aligned = align_words(tok, words)
    pieces_first = len(tok("zyxwv", add_special_tokens=False)["input_ids"])
    assert pieces_first > 1 and aligned.word_token[0] == pieces_first - 1
    assert aligned.word_token[1] == aligned.n_tokens - 1


def test_empty_and_whitespace_words_share_previous_token() -> None:
    tok = byte_level_bpe()
    aligned = align_words(tok, ["the", "", "story", "  ", "time"])
    plain = align_words(tok, ["the", "story", "time"])
    assert aligned.ids.tolist() == plain.ids.tolist()  # empty labels add nothing to the text
    assert aligned.word_token.tolist() == [plain.word_token[0], plain.word_token[0], plain.word_token[1],
                                           plain.word_token[1], plain.word_token[2]]


def test_leading_empty_word_takes_first_token() -> None:
    aligned = align_words(byte_level_bpe(), ["", "the", "story"])
    assert aligned.word_token[0] == 0


def test_word_dropped_by_normalizer_shares_previous_token() -> None:
    tok = dropping_word_level("~")
    aligned = align_words(tok, ["the", "~", "story"])
    assert aligned.n_tokens == 2
    assert aligned.word_token.tolist() == [0, 0, 1]


def test_join_words_offsets() -> None:
    text, ends = join_words([" a", "", "bc ", "d"])
    assert text == "a bc d"
    assert ends.tolist() == [1, 1, 4, 6]


def test_empty_text_gives_no_tokens() -> None:
    aligned = align_words(byte_level_bpe(), ["", " "])
    assert aligned.n_tokens == 0 and np.array_equal(aligned.word_token, [0, 0])
