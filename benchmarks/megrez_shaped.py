"""The Megrez-3B-shaped model of the GPU benchmark: an HF folder built offline.

A LLaMA with Megrez-3B-Instruct's published dimensions (or tiny ones), random weights, and a
word-level tokenizer over the same 122880-word vocabulary that carries Megrez's special
tokens and chat template: nothing is downloaded, and it loads through `load_model` exactly as
a real Megrez folder does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from runtime import Message, megrez_format

MEGREZ_3B: dict[str, Any] = {
    "hidden_size": 2560,
    "intermediate_size": 7168,
    "num_hidden_layers": 32,
    "num_attention_heads": 40,
    "num_key_value_heads": 10,
}
#: `--cpu-smoke`: the shape of tests/runtime/standins.py's Megrez stand-in.
TINY: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
VOCAB = 122880
SPECIAL = list(megrez_format.SPECIAL_TOKENS)


def word(i: int) -> str:
    return f"w{i}"


def build_folder(dest: Path, dims: dict[str, Any], dtype: torch.dtype, device: str) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL)}
    vocab.update({word(i): i for i in range(len(SPECIAL), VOCAB)})
    core = Tokenizer(models.WordLevel(vocab, unk_token="<|unk|>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=megrez_format.TURN_END,
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        additional_special_tokens=SPECIAL,
    )
    tokenizer.chat_template = megrez_format.CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=VOCAB,
        rope_theta=5e6,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        max_position_embeddings=4096,
        eos_token_id=vocab[megrez_format.TURN_END],
        pad_token_id=vocab["<|pad|>"],
        bos_token_id=None,
        **dims,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    with torch.no_grad():
        # Random weights would now and then pick a stop token; every run must be full length.
        # A zero row scores 0, below the best of 122880 random logits at every step.
        for token in (megrez_format.TURN_END, megrez_format.EOS):
            model.lm_head.weight[vocab[token]] = 0
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def prompt_messages(tokens: int, seed: int) -> list[Message]:
    """A conversation whose prompt is about `tokens` tokens of random words."""
    generator = torch.Generator().manual_seed(seed)
    words = torch.randint(len(SPECIAL), VOCAB, (max(tokens - 12, 1),), generator=generator)
    return [Message("system", "w100 w200"), Message("user", " ".join(map(word, words.tolist())))]
