"""Tiny random causal LMs built from transformers configs (no download), for tests."""

from __future__ import annotations

import pytest
import torch
import transformers

VOCAB = 48
D_MODEL = 32


def tiny_gpt2(seed: int = 0, n_layer: int = 3, init: float = 0.3) -> torch.nn.Module:
    """A 3-layer GPT-2 with tied embeddings and a wide initialisation."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        n_layer=n_layer,
        n_embd=D_MODEL,
        n_head=2,
        vocab_size=VOCAB,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
        initializer_range=init,
    )
    return transformers.GPT2LMHeadModel(config).eval()


def tiny_llama(seed: int = 0, n_layer: int = 2, init: float = 0.3) -> torch.nn.Module:
    """A 2-layer Llama-style model."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        num_hidden_layers=n_layer,
        hidden_size=D_MODEL,
        intermediate_size=2 * D_MODEL,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=VOCAB,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=0,
        initializer_range=init,
        tie_word_embeddings=True,
    )
    return transformers.LlamaForCausalLM(config).eval()


def tiny_mamba(seed: int = 0, n_layer: int = 2, init: float = 0.3) -> torch.nn.Module:
    """A 2-layer Mamba (reference PyTorch path on CPU)."""
    torch.manual_seed(seed)
    config = transformers.MambaConfig(
        num_hidden_layers=n_layer,
        hidden_size=D_MODEL,
        state_size=8,
        expand=2,
        conv_kernel=4,
        vocab_size=VOCAB,
        bos_token_id=0,
        eos_token_id=0,
        initializer_range=init,
        tie_word_embeddings=True,
    )
    return transformers.MambaForCausalLM(config).eval()


def tiny_rwkv(seed: int = 0, n_layer: int = 2, init: float = 0.3) -> torch.nn.Module:
    """A 2-layer RWKV without hidden-state rescaling."""
    torch.manual_seed(seed)
    config = transformers.RwkvConfig(
        num_hidden_layers=n_layer,
        hidden_size=D_MODEL,
        attention_hidden_size=D_MODEL,
        intermediate_size=2 * D_MODEL,
        vocab_size=VOCAB,
        context_length=64,
        rescale_every=0,
        bos_token_id=0,
        eos_token_id=0,
        initializer_range=init,
        tie_word_embeddings=True,
    )
    model = transformers.RwkvForCausalLM(config).eval()
    with torch.no_grad():  # RWKV's own initialisation gives near-uniform outputs
        for name, param in model.named_parameters():
            if param.ndim == 2:
                param.normal_(0.0, init if "embeddings" in name else init / 2)
    return model


def random_tokens(n: int, seq: int, seed: int = 0) -> torch.Tensor:
    """Uniform random token ids, shape (n, seq)."""
    return torch.randint(0, VOCAB, (n, seq), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run tiny models on one thread: extra threads only add overhead on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def word_tokenizer(n_words: int = VOCAB):
    """A whitespace word-level tokenizer over the words ``w0 .. w{n-1}`` (id = index)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(n_words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="w0")


def save_model_folder(model: torch.nn.Module, folder) -> None:
    """Save a tiny model with the word tokenizer, as a local model folder."""
    model.save_pretrained(folder)
    word_tokenizer(model.config.vocab_size).save_pretrained(folder)


def save_word_level_gpt2(folder, words, *, n_positions: int = 32, lm_head: bool = False) -> int:
    """Save a 2-layer GPT-2 with a whitespace word-level tokenizer over ``words`` to ``folder``.

    Returns the vocabulary size (the words plus ``[UNK]``).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(dict.fromkeys(words))}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]"
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=len(vocab),
                                     n_positions=n_positions, bos_token_id=0, eos_token_id=0)
    model_class = transformers.GPT2LMHeadModel if lm_head else transformers.GPT2Model
    model_class(config).save_pretrained(folder)
    return len(vocab)
