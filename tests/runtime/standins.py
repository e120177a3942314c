"""Stand-in models of Megrez's architecture, built offline for the HF-folder code path.

* `save_dequantized_smollm2`: the embedded SmolLM2-135M-Instruct GGUF, dequantized by
  transformers and saved as an ordinary HF folder (a real, working LLaMA model).
* `save_megrez_shaped_llama`: a tiny random LlamaForCausalLM whose tokenizer carries Megrez's
  special tokens, chat template, no-BOS setting and `<|turn_end|>` eos: it takes exactly the
  code path a Megrez-3B-Instruct folder takes, only its words are noise.
"""

from __future__ import annotations

from pathlib import Path

from agent.runtime import megrez_format
from agent.runtime.registry import embedded_gguf_path

MEGREZ_SPECIAL_TOKENS = [
    "<|eos|>",
    "<|unk|>",
    "<|pad|>",
    megrez_format.ROLE_START,
    megrez_format.ROLE_END,
    megrez_format.TURN_END,
    megrez_format.FUNCTION_START,
    megrez_format.FUNCTION_END,
]


def _load_smollm2():  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    return tokenizer, model


def save_dequantized_smollm2(dest: Path) -> Path:
    from transformers import LlamaForCausalLM

    tokenizer, quantized = _load_smollm2()
    # A GGUF-loaded model refuses save_pretrained; a plain copy of its weights does not.
    model = LlamaForCausalLM(quantized.config)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def save_megrez_shaped_llama(dest: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.add_special_tokens({"additional_special_tokens": MEGREZ_SPECIAL_TOKENS})
    tokenizer.eos_token = megrez_format.TURN_END
    tokenizer.pad_token = "<|pad|>"
    tokenizer.bos_token = None
    tokenizer.chat_template = megrez_format.CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, like Megrez (40 heads / 10 KV)
        rope_theta=5e6,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.convert_tokens_to_ids(megrez_format.TURN_END),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|pad|>"),
        bos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest
