"""Attention on CPU that reads grouped keys/values in place: transformers' SDPA with `enable_gqa`.

With a padding mask or a cached context prefix, transformers' "sdpa" attention copies every key/value head once
per query head it serves (`repeat_kv`) before calling torch's scaled_dot_product_attention; it passes
`enable_gqa` only without a mask, because CUDA's fast kernels take no mask with it. Torch's CPU kernel takes both,
so on CPU the copies (of the whole cached prefix, for every batch row) are skipped: the same products in the same
order (tests/features/test_attention.py), about twice as fast for a prefix of several passages
(benchmarks/bench_prefix_cache.py).
"""

from __future__ import annotations

from typing import Any

CPU_ATTENTION = "sdpa_gqa"  # the model's attention implementation on CPU (registered with transformers)


def sdpa_gqa_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                     scaling: float | None = None, is_causal: bool | None = None, **_kwargs: Any) -> tuple[Any, None]:
    """transformers' attention interface: (batch, heads, q, dim) query against (batch, kv heads, kv, dim) keys and
    values; the mask is transformers' SDPA mask (None: causal over keys as long as the query, or a single query)."""
    import torch

    causal = attention_mask is None and query.shape[2] > 1 and (is_causal if is_causal is not None else getattr(module, "is_causal", True))
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=causal,
        enable_gqa=query.shape[1] != key.shape[1])
    return out.transpose(1, 2).contiguous(), None


def use_cpu_attention(model: Any) -> None:
    """Switch a loaded model on CPU from "sdpa" to `sdpa_gqa` (same masks as "sdpa"); other models stay as they are."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    if model.device.type != "cpu" or model.config._attn_implementation != "sdpa":
        return
    AttentionInterface.register(CPU_ATTENTION, sdpa_gqa_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(CPU_ATTENTION, sdpa_mask)
    model.set_attn_implementation(CPU_ATTENTION)
