"""Word -> last sub-token alignment across tokenizer families, checked against prefix tokenization."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers_offline import byte_level_bpe, dropping_word_level, llama3_bpe, metaspace_unigram, sentencepiece_bpe

from neurofin.features.align import align_words, join_words

WORDS = ["Hello,", "world!", "It's", "3.14", "naïve", "café", "—", "don't", "2,024.", "🙂", "東京", "(end)."]


def expected_last_tokens(tokenizer, words: list[str]) -> list[int]:
    """Independent ground truth: word i's last token is the last token of the text up to word i."""
    return [len(tokenizer(" ".join(words[: i + 1]), add_special_tokens=False)["input_ids"]) - 1 for i in range(len(words))]


OFFLINE = {"llama3_bpe": llama3_bpe, "byte_level_bpe": byte_level_bpe, "sentencepiece_bpe": sentencepiece_bpe,
           "metaspace_unigram": metaspace_unigram}
LOSSLESS = ["llama3_bpe", "byte_level_bpe", "sentencepiece_bpe", "smollm2_gguf"]  # decode(encode(text)) == text


def make_tokenizer(name: str, request: pytest.FixtureRequest):
    """An offline-built tokenizer, or the real SmolLM2 (GPT-2 style) one from its GGUF file."""
    if name == "smollm2_gguf":
        return request.getfixturevalue("smollm2_loaded").tokenizer
    return OFFLINE[name]()


@pytest.mark.parametrize("name", [*OFFLINE, "smollm2_gguf"])
def test_last_token_matches_prefix_tokenization(name: str, request: pytest.FixtureRequest) -> None:
    tokenizer = make_tokenizer(name, request)
    aligned = align_words(tokenizer, WORDS)
    assert aligned.word_token.tolist() == expected_last_tokens(tokenizer, WORDS)
    assert aligned.n_tokens == len(tokenizer(" ".join(WORDS), add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("name", LOSSLESS)
def test_decoded_text_up_to_each_word_ends_with_that_word(name: str, request: pytest.FixtureRequest) -> None:
    """Tokens up to a word's aligned token decode to exactly the words so far (punctuation, digits, bytes)."""
    tok = make_tokenizer(name, request)
    aligned = align_words(tok, WORDS)
    for i, token in enumerate(aligned.word_token):
        assert tok.decode(aligned.ids[: token + 1].tolist()) == " ".join(WORDS[: i + 1])


def test_llama3_splits_digits_and_contractions_and_the_word_takes_the_last_piece() -> None:
    """Llama-3's regex: '2,024.' -> 2 , 024 . and "don't" -> don 't; the word maps to the final piece."""
    tok = llama3_bpe()
    aligned = align_words(tok, ["don't", "2,024."])
    pieces = tok.convert_ids_to_tokens(aligned.ids.tolist())
    assert pieces[aligned.word_token[0]] == "'t"
    assert pieces[aligned.word_token[1]] == "." and aligned.word_token[1] == aligned.n_tokens - 1
    assert aligned.word_token[1] - aligned.word_token[0] >= 4  # the number alone took several pieces


def test_byte_fallback_word_takes_its_last_byte_piece() -> None:
    """SentencePiece byte fallback: an unseen emoji becomes 4 <0xNN> pieces; the word is the 4th."""
    tok = sentencepiece_bpe()
    aligned = align_words(tok, ["hello", "🙂"])
    pieces = tok.convert_ids_to_tokens(aligned.ids.tolist())
    assert pieces[-4:] == ["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"]
    hello = len(tok("hello", add_special_tokens=False)["input_ids"])
    assert aligned.word_token.tolist() == [hello - 1, aligned.n_tokens - 1]


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
