"""Synthetic activation caches with known answers, shared by the scoring tests."""

import numpy as np

from interp.activations.examples import ActivationCache, vocabulary_decoder

ANIMALS = ["cat", "dog", "horse", "sheep", "goat"]
COLOURS = ["red", "blue", "green", "yellow"]
FILLER = [f"w{i}" for i in range(40)]
VOCAB = ANIMALS + COLOURS + FILLER
ANIMAL_IDS = np.arange(len(ANIMALS))
COLOUR_IDS = np.arange(len(ANIMALS), len(ANIMALS) + len(COLOURS))
DECODE = vocabulary_decoder(VOCAB)


def synthetic_cache(rows=200, ctx_len=32, *, p_animal=0.01, p_colour=0.02, seed=0):
    """Latent 0 fires on animal words, latent 1 on colour words, latent 2 never.

    Activation of latent 0 on an animal word = (index + 1) * uniform(0.5, 1.5),
    so windows' maxima spread over a wide, continuous range.
    """
    rng = np.random.default_rng(seed)
    tokens = rng.integers(len(ANIMALS) + len(COLOURS), len(VOCAB), (rows, ctx_len))
    draw = rng.random((rows, ctx_len))
    animal = draw < p_animal
    colour = (draw >= p_animal) & (draw < p_animal + p_colour)
    tokens[animal] = rng.choice(ANIMAL_IDS, animal.sum())
    tokens[colour] = rng.choice(COLOUR_IDS, colour.sum())
    acts = np.zeros((3, rows, ctx_len), dtype=np.float32)
    acts[0][animal] = (tokens[animal] + 1) * rng.uniform(0.5, 1.5, animal.sum())
    acts[1][colour] = rng.uniform(1.0, 2.0, colour.sum())
    return ActivationCache(tokens, np.array([0, 1, 2]), acts)
