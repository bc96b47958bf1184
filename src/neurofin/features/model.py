"""Load a causal LM's base model (no LM head) and tokenizer from a Hugging Face id, a local directory or a GGUF file.

Blocks are transformer block indices: block i is `hidden_states[i + 1]` of the full model (docs/REFERENCE.md
section 5). Only blocks 0..max(requested) are built, so deeper blocks cost neither memory nor time; from a GGUF
file (transformers' de-quantising loader) only their tensors are read and de-quantised (`_gguf_state_dict`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurofin.config import FeatureSettings
from neurofin.errors import ModelLoadError
from neurofin.features.attention import use_cpu_attention
from neurofin.io import sha256_bytes, sha256_file

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_OOM_ADVICE = "set features.load_in_4bit, a smaller features.batch_size, fewer/lower features.blocks, or a smaller features.context_tokens"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a local directory/GGUF file or a Hugging Face id (+ revision)."""

    location: str  # local directory or hub id
    gguf_file: str | None
    revision: str | None
    is_local: bool


@dataclass
class LoadedModel:
    """A base causal LM ready for feature extraction, and what is needed to key its features."""

    model: Any  # transformers PreTrainedModel (base model, layers truncated after the last kept block)
    tokenizer: Any  # fast tokenizer (offset mappings)
    device: Any  # torch.device
    dtype: Any  # torch.dtype
    n_blocks: int  # depth of the FULL model (number of transformer blocks)
    n_blocks_loaded: int  # blocks actually built: 0..n_blocks_loaded-1
    hidden_size: int
    identity: str  # model id + revision, or sha256 of the local files
    prefix_ids: tuple[int, ...]  # special tokens the tokenizer puts before a text (e.g. Llama-3 BOS)
    max_positions: int | None
    contexts: dict[tuple[tuple[int, ...], ...], Any] = field(default_factory=dict)  # prefix passages' tokens -> context.py state


def resolve_source(settings: FeatureSettings) -> ModelSource:
    """Interpret `settings.model` as a .gguf file, a local directory, or a Hugging Face id."""
    path = Path(settings.model).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelLoadError(f"{path} is a file but not a .gguf: pass a GGUF file, a model directory or a hub id")
        return ModelSource(str(path.parent.resolve()), path.name, None, True)
    if path.is_dir():
        if settings.gguf_file is not None and not (path / settings.gguf_file).is_file():
            raise ModelLoadError(f"{path / settings.gguf_file} does not exist: check features.gguf_file")
        return ModelSource(str(path.resolve()), settings.gguf_file, None, True)
    if settings.model.startswith((".", "/", "~")) or settings.model.endswith(".gguf"):
        raise ModelLoadError(f"model path {settings.model} does not exist: pass an existing directory or .gguf file")
    return ModelSource(settings.model, settings.gguf_file, settings.revision, False)


def model_identity(settings: FeatureSettings) -> str | None:
    """A stable identity for the model's weights without loading it; None if it needs a download to know."""
    source = resolve_source(settings)
    if source.is_local:
        return _local_identity(source)
    commit = _hub_commit(source)
    return None if commit is None else _hub_identity(source, commit)


def _local_identity(source: ModelSource) -> str:
    """sha256 of the GGUF file, or of every file (name + content hash) of a save_pretrained directory."""
    root = Path(source.location)
    if source.gguf_file is not None:
        return f"gguf:sha256:{sha256_file(root / source.gguf_file)}"
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    listing = "\n".join(f"{p.relative_to(root).as_posix()} {sha256_file(p)}" for p in files)
    return f"dir:sha256:{sha256_bytes(listing.encode('utf-8'))}"


def _hub_identity(source: ModelSource, commit: str) -> str:
    suffix = f"/{source.gguf_file}" if source.gguf_file else ""
    return f"hf:{source.location}@{commit}{suffix}"


def _hub_commit(source: ModelSource) -> str | None:
    """The commit a hub revision resolves to in the local HF cache (or the revision itself if it is a commit)."""
    if source.revision is not None and _COMMIT.match(source.revision):
        return source.revision
    from huggingface_hub import try_to_load_from_cache

    filename = source.gguf_file or "config.json"
    cached = try_to_load_from_cache(source.location, filename, revision=source.revision)
    if not isinstance(cached, str):
        return None
    parts = Path(cached).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts else None


def pick_device(name: str) -> Any:
    """The torch.device for a device setting ('auto' resolved by neurofin.device.resolve_device)."""
    import torch

    from neurofin.device import resolve_device

    return torch.device(resolve_device(name))


def pick_dtype(name: str, device: Any) -> Any:
    """'auto' -> bfloat16 on GPU, float32 on CPU; otherwise the named torch dtype."""
    import torch

    if name == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    return getattr(torch, name)


def validate_blocks(blocks: list[int], n_blocks: int) -> None:
    """Raise if a requested block index does not exist in a model with `n_blocks` transformer blocks."""
    if not blocks:
        raise ModelLoadError("no blocks requested: set features.blocks, e.g. 24-31")
    bad = [b for b in blocks if b < 0 or b >= n_blocks]
    if bad:
        raise ModelLoadError(
            f"blocks {bad} do not exist: the model has {n_blocks} transformer blocks (valid 0-{n_blocks - 1}; "
            f"block i is hidden_states[i + 1]); set features.blocks to e.g. {max(0, n_blocks - 8)}-{n_blocks - 1}"
        )


def _hub_failure(source: ModelSource, exc: BaseException) -> ModelLoadError:
    """Turn a transformers/huggingface_hub loading failure into a message that says what to do."""
    chain: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and len(chain) < 8:
        chain.append(node)
        node = node.__cause__ or node.__context__
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    what = f"cannot load model {source.location!r}" + (f" ({source.gguf_file})" if source.gguf_file else "")
    if "GatedRepoError" in names or "gated" in text.lower():
        return ModelLoadError(
            f"{what}: it is a gated model. Accept its licence on https://huggingface.co/{source.location}, then "
            "set HF_TOKEN (or run `hf auth login`), or set features.model to a local directory / .gguf file"
        )
    if source.is_local:
        return ModelLoadError(f"{what}: the local files are not a loadable model ({exc}); re-save it with save_pretrained")
    if "LocalEntryNotFoundError" in names or "connect" in text.lower() or "offline" in text.lower():
        return ModelLoadError(
            f"{what}: it is not in the local Hugging Face cache and the hub cannot be reached. Pass a local "
            "model directory or .gguf file as features.model, or go online (set HF_TOKEN for gated models)"
        )
    if "RevisionNotFoundError" in names:
        return ModelLoadError(f"{what}: revision {source.revision!r} does not exist; set features.revision to an existing one")
    return ModelLoadError(
        f"{what}: it is neither a local directory/.gguf file nor a Hugging Face model id that could be found "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); check the spelling, pass a local "
        "directory, or set HF_TOKEN for private models"
    )


def _truncated_config(config: Any, keep: int) -> Any:
    """Shorten a config to its first `keep` blocks (per-layer lists too) so deeper blocks are never built."""
    text_config = config.get_text_config()
    text_config.num_hidden_layers = keep
    layer_types = getattr(text_config, "layer_types", None)
    if isinstance(layer_types, list):
        text_config.layer_types = layer_types[:keep]
    return config


def _prefix_ids(tokenizer: Any) -> tuple[int, ...]:
    """The special tokens the tokenizer prepends to a text (Llama-3: BOS 128000; GPT-2/SmolLM2: none)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return tuple(full[:start])
    return ()


def load_language_model(settings: FeatureSettings) -> LoadedModel:
    """Load the base model (no LM head) up to the last requested block, on the chosen device and dtype.

    Loaded once per process for the same model, revision, depth, device, dtype and quantisation: the
    feature, training and inference stages of one run share it.
    """
    load_fields = {"model", "revision", "gguf_file", "device", "dtype", "load_in_4bit"}
    key = json.dumps({**settings.model_dump(mode="json", include=load_fields), "keep": max(settings.blocks) + 1}, sort_keys=True)
    loaded = _load_cached(key)
    validate_blocks(settings.blocks, loaded.n_blocks)
    return loaded


@functools.lru_cache(maxsize=2)
def _load_cached(key: str) -> LoadedModel:
    record = json.loads(key)
    settings = FeatureSettings(**{k: v for k, v in record.items() if k != "keep"}, blocks=[record["keep"] - 1])
    with _quiet_transformers():
        return _load(settings)


def _load(settings: FeatureSettings) -> LoadedModel:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    source = resolve_source(settings)
    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    common: dict[str, Any] = {"revision": source.revision} if source.revision else {}
    if source.gguf_file:
        common["gguf_file"] = source.gguf_file
    try:
        config = AutoConfig.from_pretrained(source.location, **common)
        tokenizer = AutoTokenizer.from_pretrained(source.location, **common)
    except (OSError, ValueError) as exc:
        raise _hub_failure(source, exc) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{settings.model} has no fast tokenizer (needed for word offsets): save a tokenizer.json")
    text_config = config.get_text_config()
    n_blocks = int(text_config.num_hidden_layers)
    validate_blocks(settings.blocks, n_blocks)
    keep = max(settings.blocks) + 1
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": {"": str(device)}}
    if settings.load_in_4bit:
        kwargs.update(dtype=torch.bfloat16, quantization_config=_nf4_config(device))
    config = _truncated_config(config, keep)
    try:  # (quiet: the load report lists the LM head and deeper blocks we skip on purpose)
        if source.gguf_file and _dequantised_gguf(Path(source.location) / source.gguf_file):
            state = _gguf_state_dict(Path(source.location) / source.gguf_file, config, keep)
            base: Any = MODEL_MAPPING[type(config)]  # the base model class (AutoModel needs a location to resolve it)
            model, info = base.from_pretrained(None, config=config, state_dict=state, output_loading_info=True, **kwargs)
        else:
            model, info = AutoModel.from_pretrained(source.location, config=config, output_loading_info=True, **common, **kwargs)
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise ModelLoadError(f"out of memory loading {settings.model} on {device}: {_OOM_ADVICE}") from exc
    except (OSError, ValueError) as exc:
        raise _hub_failure(source, exc) from exc
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise ModelLoadError(
            f"{settings.model} lacks weights {missing[:3]}{'...' if len(missing) > 3 else ''} for the blocks used: "
            "it is not a complete causal LM checkpoint; pass a full model"
        )
    model.eval()
    model.requires_grad_(False)
    use_cpu_attention(model)
    identity = _local_identity(source) if source.is_local else _hub_identity(source, _hub_commit(source) or source.revision or "main")
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        n_blocks=n_blocks,
        n_blocks_loaded=keep,
        hidden_size=int(text_config.hidden_size),
        identity=identity,
        prefix_ids=_prefix_ids(tokenizer),
        max_positions=getattr(text_config, "max_position_embeddings", None),
    )


def _dequantised_gguf(path: Path) -> bool:
    """Whether transformers loads this local GGUF by de-quantising every tensor (architectures it cannot keep packed)."""
    if not path.is_file():
        return False
    from gguf import GGUFReader
    from transformers.integrations.gguf import is_gguf_arch_supported
    from transformers.modeling_gguf_pytorch_utils import read_field

    return not is_gguf_arch_supported(read_field(GGUFReader(path), "general.architecture")[0])


def _gguf_state_dict(path: Path, config: Any, keep: int) -> dict[str, Any]:
    """The base model's weights from a GGUF file, reading and de-quantising only the tensors of blocks 0..keep-1
    and the shared ones (embeddings, final norm), with transformers' own GGUF name mapping and tensor processing."""
    import numpy as np
    import torch
    from gguf import GGUFReader, dequantize
    from transformers import AutoModel
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
        load_gguf_checkpoint,
        read_field,
    )

    reader = GGUFReader(path)
    parsed = load_gguf_checkpoint(str(path))  # metadata only: the config the tensor processors read
    processor = TENSOR_PROCESSORS.get(read_field(reader, "general.architecture")[0], TensorProcessor)(config=parsed["config"])
    with torch.device("meta"):
        names = get_gguf_hf_weights_map(AutoModel.from_config(config), processor)
    state = {}
    for tensor in reader.tensors:
        block = re.match(r"blk\.(\d+)\.", tensor.name)
        if block is not None and int(block.group(1)) >= keep:
            continue  # a block deeper than the model is built
        result = processor.process(weights=dequantize(tensor.data, tensor.tensor_type), name=tensor.name,
                                   tensor_key_mapping=names, parsed_parameters=parsed)
        if result.name in names:
            state[names[result.name]] = torch.from_numpy(np.copy(result.weights))
    return state


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' and the hub client's logs and progress bars (retries, de-quantisation, weights) in a block."""
    from huggingface_hub.utils import logging as hub_logging
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity(), hub_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hub_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous[0])
        hub_logging.set_verbosity(previous[1])
        if previous[2]:
            hf_logging.enable_progress_bar()


def _nf4_config(device: Any) -> Any:
    """bitsandbytes 4-bit NF4 weights with bf16 compute (GPU only)."""
    import torch
    from transformers import BitsAndBytesConfig

    if device.type != "cuda":
        raise ModelLoadError("features.load_in_4bit needs a CUDA GPU: set it to false on CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelLoadError("features.load_in_4bit needs bitsandbytes: pip install 'neurofin[quant4bit]'") from None
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
