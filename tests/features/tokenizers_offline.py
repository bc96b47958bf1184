"""Small tokenizers of the families Llama-era models use, trained offline on a generated corpus.

- `llama3_bpe`: Llama-3 (tiktoken BPE as converted to tokenizer.json): regex Split pre-tokenizer (digits in
  groups of <= 3, contractions split off), byte-level BPE, ByteLevel offset trimming, BOS <|begin_of_text|>.
- `byte_level_bpe`: GPT-2 style byte-level BPE.
- `sentencepiece_bpe`: Llama-2 style SentencePiece BPE (legacy tokenizer.json: Prepend/Replace normalizer,
  no pre-tokenizer, byte fallback <0xNN> pieces for unseen characters, BOS <s>).
- `metaspace_unigram`: SentencePiece Unigram with Metaspace pieces.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CORPUS_WORDS = ["the", "a", "of", "and", "to", "in", "it", "is", "was", "that", "he", "she", "they", "we", "you", "i", "said", "don't", "it's", "can't", "won't", "3.14", "2024", "1,000", "$5", "50%", "hello", "world", "story", "time", "people", "thought", "naïve", "café", "résumé", "déjà", "vu", "東京", "北京", "—", "–", '"', "'", "(", ")", ",", ".", "!", "?", ";", ":"]


def corpus(n_lines: int = 400) -> list[str]:
    """A deterministic generated corpus of sentences over CORPUS_WORDS."""
    lines = []
    for i in range(n_lines):
        picked = [CORPUS_WORDS[(i * 7 + j * 13) % len(CORPUS_WORDS)] for j in range(12)]
        lines.append(" ".join(picked))
    return lines


def byte_level_bpe(bos: str | None = None) -> PreTrainedTokenizerFast:
    """GPT-2/Llama-3 style byte-level BPE (optionally with a BOS token that the tokenizer prepends)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [bos] if bos else []
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    if bos:
        tok.post_processor = _prepend(tok, bos)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos)


# the pre-tokenizer regex of Llama-3's tokenizer.json (tiktoken's cl100k-style pattern)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)


def llama3_bpe(bos: str = "<|begin_of_text|>") -> PreTrainedTokenizerFast:
    """Llama-3 style tokenizer: regex split + byte-level BPE, offsets trimmed of spaces, BOS prepended."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[bos], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=True), _prepend(tok, bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos)


def sentencepiece_bpe(bos: str = "<s>") -> PreTrainedTokenizerFast:
    """Llama-2 style SentencePiece BPE (legacy tokenizer.json layout) with <0xNN> byte-fallback pieces."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()  # training only: SentencePiece never merges across words
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", bos])
    tok.train_from_iterator(corpus(), trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    spec["model"].update(byte_fallback=True, vocab=vocab)
    spec["pre_tokenizer"] = None
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = _prepend(tok, bos)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, unk_token="<unk>")


def _prepend(tok: Tokenizer, bos: str) -> processors.TemplateProcessing:
    """Post-processor that puts the BOS token before a single text."""
    return processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])


def metaspace_unigram() -> PreTrainedTokenizerFast:
    """SentencePiece-style Unigram with Metaspace ('▁word') pieces."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<unk>"], unk_token="<unk>")
    tok.train_from_iterator(corpus(), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


def dropping_word_level(dropped: str = "~") -> PreTrainedTokenizerFast:
    """Whitespace WordLevel tokenizer whose normalizer deletes `dropped`, so a word made of it has no token."""
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Replace(dropped, "")
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]"])
    tok.train_from_iterator(corpus(), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def save_tiny_llama(out: Path, tokenizer: PreTrainedTokenizerFast, n_layers: int = 3, seed: int = 0) -> Path:
    """A tiny random LlamaModel + tokenizer saved with save_pretrained, as a user's local model directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
