"""The context prefix's cached keys/values give the values of reading prefix + text whole, and the prefix is run once."""

from __future__ import annotations

import numpy as np
import pytest

from neurofin.features.extract import extract_many
from neurofin.infer.text import NEUTRAL_STORY, prefix_words

VOCABULARY = ["the", "stock", "market", "calls", "puts", "shares", "earnings", "guidance", "moon", "crash", "dip", "rally", "i", "sold", "everything", "gme", "to"]
LENGTHS = [1, 3, 8, 20, 45]  # mixed lengths in one batch: right padding of every size


def texts(lengths: list[int], seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [list(rng.choice(VOCABULARY, n)) for n in lengths]


def whole(loaded, context: list[str], word_lists: list[list[str]], blocks: list[int], ctx: int, stride: int) -> list[np.ndarray]:
    """Today's path, independent of the cache: prefix + text read as one text, the prefix's words dropped."""
    out = extract_many(loaded, [context + w for w in word_lists], blocks, ctx, "strided", stride, batch_size=8)
    return [f[len(context) :] for f in out]


def assert_same_to_1e5(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Equal to 1e-5 of the features' scale (SmolLM2's hidden states reach a few hundred), block by block."""
    for g, w in zip(got, want):
        assert g.shape == w.shape
        for b in range(w.shape[1]):
            assert np.abs(g[:, b] - w[:, b]).max() <= 1e-5 * np.abs(w[:, b]).max()


@pytest.mark.parametrize("ctx, stride", [(512, 2048), (64, 64)])  # one window per text; the longest text needs a second
def test_cached_prefix_equals_reading_prefix_and_text_whole(smollm2_loaded, ctx: int, stride: int) -> None:
    context = prefix_words(NEUTRAL_STORY)
    word_lists = texts(LENGTHS)
    got = extract_many(smollm2_loaded, word_lists, [5, 29], ctx, "strided", stride, batch_size=8, context=context)
    assert_same_to_1e5(got, whole(smollm2_loaded, context, word_lists, [5, 29], ctx, stride))


def test_bos_model_caches_its_special_token_with_the_prefix(tiny_loaded) -> None:
    assert tiny_loaded.prefix_ids  # Llama-3 style BOS: in the cache, not repeated before the text
    context = ["so", "this", "happened", "last", "week", "at", "the", "office"]
    word_lists = texts([2, 9, 5], seed=1)
    got = extract_many(tiny_loaded, word_lists, [0, 2], 64, "strided", 64, batch_size=4, context=context)
    assert_same_to_1e5(got, whole(tiny_loaded, context, word_lists, [0, 2], 64, 64))


def test_the_prefix_runs_once_per_model_and_batches_carry_only_text_tokens(smollm2_loaded) -> None:
    context = prefix_words(NEUTRAL_STORY)
    widths: list[int] = []
    handle = smollm2_loaded.model.register_forward_pre_hook(
        lambda _m, _a, kwargs: widths.append(int(kwargs["input_ids"].shape[1])), with_kwargs=True)
    try:
        for seed in (2, 3):
            extract_many(smollm2_loaded, texts(LENGTHS[:4], seed), [29], 512, "strided", 2048, batch_size=8, context=context)
    finally:
        handle.remove()
    n_context = len(smollm2_loaded.tokenizer(" ".join(context), add_special_tokens=False)["input_ids"])
    assert n_context > 70
    text_widths = [w for w in widths if w != n_context]
    assert len(widths) - len(text_widths) <= 1  # the prefix was read at most once (once in this session)
    assert text_widths and max(text_widths) <= 2 * max(LENGTHS[:4])  # batches hold the texts' tokens only


@pytest.mark.parametrize("calibrate", [False, pytest.param(True, marks=pytest.mark.slow)])  # calibrating reads 40 texts twice
def test_roi_values_and_calibration_equal_todays_path(smollm2_loaded, monkeypatch: pytest.MonkeyPatch, calibrate: bool) -> None:
    """Through the predictor (infer, explain, serve, calibrate): raw, per-word and calibrated values as read whole."""
    import neurofin.features.extract as extract
    from neurofin.config import FeatureSettings, TimingSettings
    from neurofin.infer.predictor import FeatureGroup, Predictor
    from neurofin.infer.readout import RegionReadout

    rng = np.random.default_rng(0)
    readouts = [RegionReadout(f"S{i}", rng.standard_normal((2 * 576, 5)), rng.standard_normal(5), np.zeros(5, bool), rate,
                              TimingSettings(), f"S{i}") for i, rate in enumerate((2.2, 2.8))]
    settings = FeatureSettings(model="SmolLM2", blocks=[20, 23], device="cpu")
    predictor = Predictor([FeatureGroup(settings, readouts, loaded=smollm2_loaded)], [f"r{i}" for i in range(5)])
    comments = [" ".join(w) for w in texts([*LENGTHS, 2, 13], seed=4)]
    reference = [" ".join(w) for w in texts(list(np.geomspace(3, 40, 40).astype(int)), seed=5)]  # the fewest calibrate takes

    def values() -> dict[str, np.ndarray]:
        regions = predictor.region_names
        if not calibrate:
            return {"raw": predictor.predict_rois(comments, units="raw")[regions].to_numpy(float),
                    "explain": predictor.explain(comments[3], units="raw")[regions].to_numpy(float)}
        calibrations = predictor.calibrate(reference)
        return {"calibrated": predictor.predict_rois(comments)[regions].to_numpy(float),
                "scale": np.stack([c.scale for c in calibrations.values()])}

    cached = values()
    assert smollm2_loaded.contexts  # the predictor read its prefix through the cache
    original = extract.extract_many

    def whole_path(loaded, word_lists, *args, context=(), **kwargs):
        out = original(loaded, [[*context, *w] for w in word_lists], *args, **kwargs)
        return [f[len(context) :] for f in out]

    monkeypatch.setattr(extract, "extract_many", whole_path)
    today = values()
    for name, want in today.items():
        assert np.isfinite(want).all()
        assert np.abs(cached[name] - want).max() <= 1e-5 * np.abs(want).max(), name



def side_by_side_whole(loaded, passages: list[list[str]], word_lists: list[list[str]], blocks: list[int]) -> list[np.ndarray]:
    """Parallel context windows computed without the cache: [P1..PK, text] in one forward per text, with a 4D mask
    (each passage sees only itself, the text sees every passage and its own earlier tokens) and explicit position ids
    (every passage ends where the text starts); the hidden states after each block at each word's last token."""
    import torch

    from neurofin.features.align import align_words

    rows = [[*loaded.prefix_ids, *align_words(loaded.tokenizer, p).ids.tolist()] for p in passages]
    end, start = max(len(r) for r in rows), sum(len(r) for r in rows)  # the text's first position and first index
    n_first = len(rows[0]) - len(loaded.prefix_ids)
    out = []
    for words in word_lists:
        aligned = align_words(loaded.tokenizer, [*passages[0], *words])  # the text's tokens as read after a passage
        text = aligned.ids[n_first:].tolist()
        n = start + len(text)
        allowed = np.zeros((n, n), bool)
        offset = 0
        for r in rows:
            allowed[offset : offset + len(r), offset : offset + len(r)] = np.tril(np.ones((len(r), len(r)), bool))
            offset += len(r)
        allowed[start:, :start] = True
        allowed[start:, start:] = np.tril(np.ones((len(text), len(text)), bool))
        mask = torch.zeros(1, 1, n, n).masked_fill(~torch.from_numpy(allowed), torch.finfo(torch.float32).min)
        positions = [p for r in rows for p in range(end - len(r), end)] + list(range(end, end + len(text)))
        with torch.inference_mode():
            hidden = loaded.model(input_ids=torch.tensor([[t for r in rows for t in r] + text]), attention_mask=mask,
                                  position_ids=torch.tensor([positions]), output_hidden_states=True).hidden_states
        last = start + aligned.word_token[len(passages[0]) :] - n_first
        out.append(np.stack([hidden[b + 1][0, last].float().numpy() for b in blocks], axis=1))
    return out


def test_one_passage_side_by_side_is_todays_cached_prefix(smollm2_loaded) -> None:
    context, word_lists = prefix_words(NEUTRAL_STORY), texts(LENGTHS, seed=6)
    today = extract_many(smollm2_loaded, word_lists, [5, 29], 512, "strided", 2048, batch_size=8, context=context)
    alone = extract_many(smollm2_loaded, word_lists, [5, 29], 512, "strided", 2048, batch_size=8, context=context,
                         parallel_context=[])
    assert_same_to_1e5(alone, today)


@pytest.mark.parametrize("loaded_name, blocks, ctx", [("smollm2_loaded", [5, 29], 512), ("tiny_loaded", [0, 2], 200)])
def test_passages_side_by_side_equal_one_masked_forward(request, loaded_name: str, blocks: list[int], ctx: int) -> None:
    """K=3 passages of different lengths (right-aligned): the cached path equals the masked whole sequence; and the
    text does read them (the features differ from one passage's)."""
    from neurofin.infer.text import PARALLEL_STORIES, context_passages

    loaded = request.getfixturevalue(loaded_name)
    passages = [p[: 40 + 9 * i] for i, p in enumerate(context_passages(PARALLEL_STORIES))]
    word_lists = texts(LENGTHS, seed=7)
    got = extract_many(loaded, word_lists, blocks, ctx, "strided", 300, batch_size=8, context=passages[0],
                       parallel_context=passages[1:])  # one window per text
    assert_same_to_1e5(got, side_by_side_whole(loaded, passages, word_lists, blocks))
    one = extract_many(loaded, word_lists, blocks, ctx, "strided", 300, batch_size=8, context=passages[0])
    assert min(np.abs(g - o).max() for g, o in zip(got, one)) > 1e-3 * max(np.abs(o).max() for o in one)
