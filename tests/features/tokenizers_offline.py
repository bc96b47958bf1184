"""Small tokenizers of the three families Llama-era models use, trained offline on a generated corpus."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

CORPUS_WORDS = (
    "the a of and to in it is was that he she they we you i said don't it's can't won't 3.14 2024 1,000 "
    "$5 50% hello world story time people thought naïve café résumé déjà vu 東京 北京 — – \" ' ( ) , . ! ? ; :"
).split()


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
        from tokenizers.processors import TemplateProcessing

        tok.post_processor = TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos)


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
