"""The rotary decoders' `config.json` both ways (Llama, Qwen, Mistral, GPT-NeoX, Gemma, Phi-3, OLMo 2…)."""

from __future__ import annotations

from typing import Any

from models.errors import ModelError
from models.nn import DecoderConfig

CLASSES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "mistral": "MistralForCausalLM",
    "gpt_neox": "GPTNeoXForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "olmo2": "Olmo2ForCausalLM",
    "smollm3": "SmolLM3ForCausalLM",
}
GEMMA = ("gemma2", "gemma3_text")
SLIDING, FULL = "sliding_attention", "full_attention"


def decoder_from_hf(family: str, d: dict[str, Any]) -> DecoderConfig:
    """A decoder family's config, old style (rope_theta, rope_scaling, rotary_pct) or
    transformers 5's (rope_parameters, per layer type for Gemma 3)."""
    rope, local_theta = _rope_of(family, d)
    scaling = {k: v for k, v in rope.items() if k not in ("rope_theta", "partial_rotary_factor")}
    if scaling.get("rope_type", "default") == "default":
        scaling = {}
    heads = int(d.get("num_attention_heads", 32))
    hidden = int(d.get("hidden_size", 4096))
    default_act = "gelu" if family == "gpt_neox" else "gelu_pytorch_tanh" if family in GEMMA else "silu"
    common = dict(
        family=family,
        vocab_size=int(d.get("vocab_size", 32000)),
        hidden_size=hidden,
        intermediate_size=int(d.get("intermediate_size", 4 * hidden)),
        num_hidden_layers=int(d.get("num_hidden_layers", 32)),
        num_attention_heads=heads,
        max_position_embeddings=int(d.get("max_position_embeddings", 2048)),
        rope_theta=float(rope.get("rope_theta", d.get("rope_theta", d.get("rotary_emb_base", 10000.0)))),
        rope_scaling=tuple(sorted((str(k), v) for k, v in scaling.items() if v is not None)),
        tie_word_embeddings=bool(d.get("tie_word_embeddings", family in GEMMA or family == "smollm3")),
        hidden_act=str(d.get("hidden_activation") or d.get("hidden_act") or default_act),
        bos_token_id=opt_int(d.get("bos_token_id")),
        eos_token_id=opt_int(d.get("eos_token_id")),
        pad_token_id=_pad(d.get("pad_token_id"), int(d.get("vocab_size", 32000))),
        stop_token_ids=tuple(int(i) for i in _ids(d.get("eos_token_id"))),
    )
    if family == "gpt_neox":
        bias = bool(d.get("attention_bias", True))
        fraction = rope.get(
            "partial_rotary_factor", d.get("partial_rotary_factor", d.get("rotary_pct", 0.25))
        )
        return DecoderConfig(
            **common, num_key_value_heads=heads, norm_eps=float(d.get("layer_norm_eps", 1e-5)),
            rotary_fraction=float(fraction), qkv_bias=bias, o_bias=bias, mlp_bias=True, layer_norm=True,
            gated_mlp=False, parallel_residual=bool(d.get("use_parallel_residual", True)),
        )  # fmt: skip
    if family in ("qwen2", "qwen3") and d.get("use_sliding_window"):
        raise ModelError(f"config.json: {family} with use_sliding_window is not supported")
    attention_bias = bool(d.get("attention_bias", False))
    default_head = 256 if family in GEMMA else 128 if family == "qwen3" else hidden // heads
    head_dim = d.get("head_dim") or default_head
    window, local = _windows(family, d)
    gemma = family in GEMMA
    return DecoderConfig(
        **common,
        num_key_value_heads=int(d.get("num_key_value_heads") or heads),
        head_dim=int(head_dim),
        norm_eps=float(d.get("rms_norm_eps", 1e-5 if family in ("phi3", "olmo2") else 1e-6)),
        rotary_fraction=float(rope.get("partial_rotary_factor", d.get("partial_rotary_factor", 1.0))),
        qkv_bias=True if family == "qwen2" else attention_bias,
        o_bias=False if family in ("qwen2", "mistral") else attention_bias,
        mlp_bias=bool(d.get("mlp_bias", False)),
        qk_norm=family in ("qwen3", "gemma3_text"),
        qk_norm_full=family == "olmo2",
        norm_plus_one=gemma,
        norms="sandwich" if gemma else "post" if family == "olmo2" else "pre",
        embed_scale=gemma,
        attn_scalar=float(d.get("query_pre_attn_scalar") or 256) if gemma else 0.0,
        attn_softcap=float(d.get("attn_logit_softcapping", 50.0 if family == "gemma2" else None) or 0.0),
        final_softcap=float(d.get("final_logit_softcapping", 30.0 if family == "gemma2" else None) or 0.0),
        sliding_window=window,
        local_layers=local,
        local_rope_theta=local_theta,
        nope_layers=_nope_layers(family, d),
    )


def _rope_of(family: str, d: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The (global) rotary settings with their kind under "rope_type", and Gemma 3's local base."""
    params = dict(d.get("rope_parameters") or {})
    if family == "gemma3_text":
        if FULL in params:  # transformers 5: one entry per layer type
            full, local = _rope_kind(dict(params[FULL] or {})), dict(params.get(SLIDING) or {})
        else:
            full = _rope_kind(dict(d.get("rope_scaling") or params or {}))
            full.setdefault("rope_theta", d.get("rope_theta", 1_000_000.0))
            local = {"rope_theta": d.get("rope_local_base_freq", 10_000.0)}
        if local.get("rope_type", "default") != "default":
            raise ModelError("config.json: scaled rotary positions on local layers are not supported")
        return full, float(local.get("rope_theta", 10_000.0))
    rope, legacy = _rope_kind(params), _rope_kind(dict(d.get("rope_scaling") or {}))
    # transformers 5's rope_parameters, unless it only says "default" where the old key says more
    source = rope if rope.get("rope_type", "default") != "default" else legacy
    if source.get("rope_type") == "longrope":
        raise ModelError(
            "config.json: 'longrope' rotary scaling (the 128k-context Phi variants) is not supported; "
            "the 4k-context models open"
        )
    return {**source, **{k: v for k, v in rope.items() if k in ("rope_theta", "partial_rotary_factor")}}, 0.0


def _windows(family: str, d: dict[str, Any]) -> tuple[int, tuple[int, ...]]:
    """The sliding window and the layers it applies to (() = every layer)."""
    if family == "mistral":
        return int(d.get("sliding_window", 4096) or 0), ()  # MistralConfig's default
    if family == "phi3":
        return int(d.get("sliding_window") or 0), ()
    layers = int(d.get("num_hidden_layers", 32))
    if family in GEMMA:
        window = int(d.get("sliding_window") or 4096)
        every = 2 if family == "gemma2" else int(d.get("sliding_window_pattern") or 6)
        default = [SLIDING if (i + 1) % every else FULL for i in range(layers)]
    elif family == "smollm3" and d.get("use_sliding_window") and d.get("sliding_window"):
        window, default = int(d["sliding_window"]), [FULL] * layers
    else:
        return 0, ()
    types = list(d.get("layer_types") or default)
    local = tuple(i for i, kind in enumerate(types) if kind == SLIDING)
    return (window, local) if local else (0, ())


def _nope_layers(family: str, d: dict[str, Any]) -> tuple[int, ...]:
    """SmolLM3's layers without rotary positions (its no_rope_layers flags 1 = rotary, 0 = none)."""
    if family != "smollm3":
        return ()
    layers = int(d.get("num_hidden_layers", 32))
    every = int(d.get("no_rope_layer_interval") or 4)
    flags = d.get("no_rope_layers") or [int((i + 1) % every != 0) for i in range(layers)]
    return tuple(i for i, f in enumerate(flags) if not f)


def decoder_to_hf(cfg: DecoderConfig) -> dict[str, Any]:
    """Both spellings of the rotary settings: transformers 5's rope_parameters and the older keys."""
    scaling = dict(cfg.rope_scaling)  # read with its kind under "rope_type"
    rope = {"rope_type": "default", **scaling, "rope_theta": cfg.rope_theta}
    d: dict[str, Any] = {
        "model_type": cfg.family,
        "architectures": [CLASSES[cfg.family]],
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": scaling or None,
        "rope_parameters": rope,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "hidden_act": cfg.hidden_act,
        "bos_token_id": cfg.bos_token_id,
        "pad_token_id": cfg.pad_token_id,
        "eos_token_id": list(cfg.stop_token_ids) if len(cfg.stop_token_ids) > 1 else cfg.eos_token_id,
    }
    if cfg.family == "gpt_neox":
        rope["partial_rotary_factor"] = cfg.rotary_fraction
        return d | {
            "rotary_pct": cfg.rotary_fraction, "rotary_emb_base": cfg.rope_theta,
            "layer_norm_eps": cfg.norm_eps, "use_parallel_residual": cfg.parallel_residual,
            "attention_bias": cfg.qkv_bias,
        }  # fmt: skip
    d |= {
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_size,
        "rms_norm_eps": cfg.norm_eps,
        # Qwen2's query/key/value biases are built in; Mistral's output projection never has one
        "attention_bias": cfg.qkv_bias if cfg.family == "mistral" else cfg.o_bias,
        "mlp_bias": cfg.mlp_bias,
    }
    if cfg.family == "qwen2":
        d["attention_bias"] = False
    if cfg.family == "mistral":
        d["sliding_window"] = cfg.sliding_window or None
    if cfg.family in ("qwen2", "qwen3"):
        d |= {"use_sliding_window": False, "sliding_window": None}
    if cfg.rotary_fraction != 1.0:
        rope["partial_rotary_factor"] = d["partial_rotary_factor"] = cfg.rotary_fraction
    if cfg.family == "phi3":
        d |= {"sliding_window": cfg.sliding_window or None, "original_max_position_embeddings": cfg.context}
    if cfg.family in GEMMA:
        d |= _gemma_to_hf(cfg, rope)
    if cfg.family == "smollm3":
        d |= {
            "no_rope_layers": [int(i not in cfg.nope_layers) for i in range(cfg.num_hidden_layers)],
            "use_sliding_window": cfg.sliding_window > 0,
            "sliding_window": cfg.sliding_window or None,
            "layer_types": _layer_types(cfg),
        }
    return d


def _gemma_to_hf(cfg: DecoderConfig, rope: dict[str, Any]) -> dict[str, Any]:
    d = {
        "hidden_activation": cfg.hidden_act,
        "query_pre_attn_scalar": int(cfg.attn_scalar) if cfg.attn_scalar.is_integer() else cfg.attn_scalar,
        "attn_logit_softcapping": cfg.attn_softcap or None,
        "final_logit_softcapping": cfg.final_softcap or None,
        "sliding_window": cfg.sliding_window or None,
        "layer_types": _layer_types(cfg),
    }
    if cfg.family == "gemma3_text":
        local = {"rope_type": "default", "rope_theta": cfg.local_rope_theta or cfg.rope_theta}
        d |= {"rope_parameters": {FULL: rope, SLIDING: local}, "rope_scaling": None}
        d |= {"rope_local_base_freq": local["rope_theta"]}
    return d


def _layer_types(cfg: DecoderConfig) -> list[str]:
    return [SLIDING if cfg.windowed(i) else FULL for i in range(cfg.num_hidden_layers)]


def _pad(v: Any, vocab: int) -> int | None:
    """The padding id, if it is a token (an id past the vocabulary is read as none, as transformers warns)."""
    v = opt_int(v)
    return v if v is not None and 0 <= v < vocab else None


def _rope_kind(params: dict[str, Any]) -> dict[str, Any]:
    """Old configs name the scaling kind "type", newer ones "rope_type": keep one, "rope_type"."""
    if "type" in params:
        kind = params.pop("type")
        params.setdefault("rope_type", kind)
    return params


def _ids(v: Any) -> list:
    return [x for x in (v if isinstance(v, list) else [v]) if x is not None]


def opt_int(v: Any) -> int | None:
    if isinstance(v, list):  # some configs list several ids; the first is the main one
        v = v[0] if v else None
    return None if v is None else int(v)
