"""Model loading: what is built (no LM head, blocks up to the last requested), prefix tokens, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurofin.config import FeatureSettings
from neurofin.errors import ModelLoadError
from neurofin.features import model as model_module
from neurofin.features.extract import extract_word_features
from neurofin.features.model import load_language_model

WORDS = ["It", "was", "3", "a.m.", "when", "the", "café's", "lights", "went", "out,", "and", "nobody", "said", "a", "word."]


def load(model: str | Path, blocks: list[int] | str = "0") -> object:
    return load_language_model(FeatureSettings(model=str(model), blocks=blocks, device="cpu"))


def test_loads_only_the_blocks_needed_and_no_lm_head(tiny_llama_dir: Path, tiny_loaded, tiny_reference) -> None:
    shallow = load(tiny_llama_dir, [1])
    assert shallow.n_blocks == 3 and shallow.n_blocks_loaded == 2
    assert len(shallow.model.layers) == 2 and not hasattr(shallow.model, "lm_head")
    assert shallow.identity == tiny_loaded.identity  # same weights, same cache key
    np.testing.assert_allclose(extract_word_features(shallow, WORDS, [1], 8, "strided", 4),
                               extract_word_features(tiny_loaded, WORDS, [1], 8, "strided", 4), rtol=1e-5, atol=1e-6)
    # the loaded weights are the saved ones (independent load of the full causal LM)
    np.testing.assert_array_equal(shallow.model.layers[1].mlp.up_proj.weight.detach().numpy(),
                                  tiny_reference.model.layers[1].mlp.up_proj.weight.detach().numpy())


def test_prefix_tokens_are_the_tokenizers_bos(tiny_loaded, smollm2_loaded) -> None:
    assert tiny_loaded.prefix_ids == (tiny_loaded.tokenizer.convert_tokens_to_ids("<|begin_of_text|>"),)
    assert smollm2_loaded.prefix_ids == ()  # SmolLM2 adds no BOS
    assert smollm2_loaded.n_blocks == 30 and smollm2_loaded.hidden_size == 576
    assert smollm2_loaded.identity.startswith("gguf:sha256:") and smollm2_loaded.dtype == torch.float32


def test_blocks_beyond_depth_say_the_valid_range(tiny_llama_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"3 transformer blocks \(valid 0-2.*features.blocks to e.g. 0-2"):
        load(tiny_llama_dir, [1, 3])


def test_unknown_hub_id_offline_says_to_pass_a_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache.*local model directory or .gguf"):
        load("nobody-here/no-such-model-xyz")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "not a loadable model.*save_pretrained"),  # an empty folder
        (lambda p: (p / "config.json").write_text('{"model_type": "llama",') and p, "not a loadable model"),
        (lambda p: p / "missing-folder", "does not exist"),
        (lambda p: (p / "weights.bin").write_bytes(b"x") and p / "weights.bin", "not a .gguf"),
    ],
    ids=["empty-dir", "broken-config", "missing-path", "not-gguf-file"],
)
def test_bad_local_model_says_what_to_do(make, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=expected):
        load(make(tmp_path))


def test_local_dir_without_weights_is_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(tiny_llama_dir, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="not a loadable model.*re-save it with save_pretrained"):
        load(tmp_path / "m")


def test_checkpoint_missing_the_requested_blocks_is_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    """A config that claims more blocks than the weights hold: the deepest block's weights are missing."""
    import json
    import shutil

    shutil.copytree(tiny_llama_dir, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 4}))
    assert load(tmp_path / "m", [2]).n_blocks == 4  # blocks 0-2 are all there
    with pytest.raises(ModelLoadError, match="lacks weights.*layers.3.*not a complete causal LM checkpoint"):
        load(tmp_path / "m", [3])


def _hub_error(cls_name: str) -> Exception:
    """A huggingface_hub error as the hub client raises it (no HTTP response needed for its message)."""
    import huggingface_hub.errors

    cls = getattr(huggingface_hub.errors, cls_name)
    exc = cls.__new__(cls)
    Exception.__init__(exc, f"simulated {cls_name}")
    return exc


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("GatedRepoError", "gated model. Accept its licence on https://huggingface.co/meta-llama/Llama-3.1-8B.*HF_TOKEN"),
        ("RepositoryNotFoundError", "check the spelling, pass a local directory"),
        ("RevisionNotFoundError", "set features.revision to an existing one"),
    ],
)
def test_hub_failures_say_what_to_do(error: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub download raises; transformers wraps it as it does online; we turn it into the fix."""
    import transformers.utils.hub

    def refuse(*_args, **_kwargs):
        raise _hub_error(error)

    monkeypatch.setattr(transformers.utils.hub, "hf_hub_download", refuse)
    with pytest.raises(ModelLoadError, match=expected):
        load_language_model(FeatureSettings(model="meta-llama/Llama-3.1-8B", revision="v1", blocks="24-31", device="cpu"))


def test_out_of_memory_while_loading_suggests_4bit(tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def exhausted(*_args, **_kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 224.00 MiB")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", exhausted)
    with pytest.raises(ModelLoadError, match="out of memory loading .*features.load_in_4bit.*features.batch_size"):
        load(tiny_llama_dir)


def test_out_of_memory_while_extracting_suggests_smaller_batches(tiny_loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*_args, **_kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(tiny_loaded.model, "forward", exhausted)
    with pytest.raises(ModelLoadError, match="out of memory featurising.*smaller features.batch_size"):
        extract_word_features(tiny_loaded, WORDS, [0], 8, "strided", 4)


def test_4bit_on_cpu_is_refused(tiny_llama_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="needs a CUDA GPU"):
        load_language_model(FeatureSettings(model=str(tiny_llama_dir), blocks=[0], device="cpu", load_in_4bit=True))


def test_auto_dtype_is_fp32_on_cpu_and_bf16_on_gpu() -> None:
    assert model_module.pick_dtype("auto", torch.device("cpu")) == torch.float32
    assert model_module.pick_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert model_module.pick_dtype("float16", torch.device("cpu")) == torch.float16


def test_gguf_reads_only_the_tensors_of_the_blocks_it_builds(smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    dequantised: list[tuple[int, ...]] = []
    original = gguf.dequantize
    monkeypatch.setattr(gguf, "dequantize", lambda data, kind: dequantised.append(data.shape) or original(data, kind))
    shallow = model_module._load(FeatureSettings(model=str(smollm2_gguf), blocks=[1], device="cpu"))
    assert len(shallow.model.layers) == 2
    # 9 tensors per block of 30 + embeddings + final norm = 272 in the file; blocks 0-1 need 2 x 9 + 2
    assert len(dequantised) == 20
    reference = load_gguf_checkpoint(str(smollm2_gguf), return_tensors=True, model_to_load=shallow.model)["tensors"]
    weights = shallow.model.state_dict()
    assert set(weights) <= set(reference)  # transformers' own loader, every tensor de-quantised
    for name, tensor in weights.items():
        torch.testing.assert_close(tensor, reference[name], rtol=0, atol=0)
