"""Stage 2, activations and examples: what each latent responds to, in text.

Modules
-------
hooks
    Forward hooks that record module inputs and outputs.
caching
    A coder's latent activations over a token corpus, per token.
examples
    The activation cache, windows, rank quantiles, non-activating examples
    (random, similar, neighbour latents) and highlighting.
"""
