"""Stand-in models of Megrez's architecture, built offline for the HF-folder code path.

* `save_dequantized_smollm2`: the embedded SmolLM2-135M-Instruct GGUF, dequantized by
  transformers and saved as an ordinary HF folder (a real, working LLaMA model).
* `save_megrez_shaped_llama`: a tiny random LlamaForCausalLM whose tokenizer carries Megrez's
  special tokens, chat template, no-BOS setting and `<|turn_end|>` eos: it takes exactly the
  code path a Megrez-3B-Instruct folder takes, only its words are noise.
"""

from __future__ import annotations

from pathlib import Path

from runtime import megrez_format
from runtime.registry import embedded_gguf_path

MEGREZ_SPECIAL_TOKENS = list(megrez_format.SPECIAL_TOKENS)


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


# The remote code of the Omni stand-in: a working LLaMA (SmolLM2) under Omni's class name with
# Omni's documented `chat` API. It is written into the model folder and loaded by transformers
# through `trust_remote_code`, exactly as Megrez-3B-Omni's own `modeling_megrezo.py` is.
OMNI_REMOTE_CODE = '''
"""Stand-in for Megrez-3B-Omni's remote code: `MegrezO.chat(input_msgs, sampling, ...)`."""

from pathlib import Path

from transformers import LlamaForCausalLM


class _TurnEndStreamer:
    """Streams what the real Omni streams: its end of turn is `<|turn_end|>`."""

    def __init__(self, streamer, own_end: int, turn_end: int) -> None:
        self.streamer, self.own_end, self.turn_end = streamer, own_end, turn_end

    def put(self, value):
        self.streamer.put(value.masked_fill(value == self.own_end, self.turn_end))

    def end(self):
        self.streamer.end()


class MegrezO(LlamaForCausalLM):
    received = []  # every call's input_msgs, for tests to inspect

    def chat(self, input_msgs, sampling=False, max_new_tokens=64, temperature=0.7,
             streamer=None, tokenizer=None, **kwargs):
        from transformers import AutoTokenizer

        tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.name_or_path)
        MegrezO.received.append(input_msgs)
        messages = []
        for message in input_msgs:
            content = message["content"]
            if isinstance(content, dict):
                text = content.get("text", "")
                for kind in ("image", "audio"):
                    if kind in content:
                        size = Path(content[kind]).stat().st_size  # must be a real file path
                        text += f" [{kind}: {size} bytes]"
                content = text
            messages.append({"role": message["role"], "content": content})
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"].to(self.device)
        own_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        if streamer is not None:
            streamer = _TurnEndStreamer(
                streamer, own_end, tokenizer.convert_tokens_to_ids("<|turn_end|>")
            )
        output = self.generate(
            ids, max_new_tokens=max_new_tokens, do_sample=sampling, temperature=temperature,
            streamer=streamer, eos_token_id=own_end, pad_token_id=own_end,
        )
        return tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True)
'''


def save_omni_shaped_model(dest: Path) -> Path:
    """SmolLM2 saved as a `trust_remote_code` model of class `MegrezO` with Omni's `chat` API;
    its tokenizer also knows Megrez's special tokens, so its output ends in `<|turn_end|>`."""
    import json

    from transformers import AutoTokenizer

    save_dequantized_smollm2(dest)
    tokenizer = AutoTokenizer.from_pretrained(dest)
    tokenizer.add_special_tokens({"additional_special_tokens": MEGREZ_SPECIAL_TOKENS})
    tokenizer.save_pretrained(dest)
    (dest / "modeling_megrezo_standin.py").write_text(OMNI_REMOTE_CODE, encoding="utf-8")
    config_path = dest / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["architectures"] = ["MegrezO"]
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_megrezo_standin.MegrezO"}
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return dest
