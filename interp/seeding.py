"""Random-number generators from seeds, so every stochastic function is reproducible."""

from __future__ import annotations

import torch

SeedLike = int | torch.Generator | None


def make_generator(seed: SeedLike, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a :class:`torch.Generator` for ``seed``.

    Parameters
    ----------
    seed : int, torch.Generator or None
        An integer seeds a new generator; a generator is returned unchanged;
        ``None`` draws a seed from the operating system (not reproducible).
    device : str or torch.device
        Device of a newly created generator.

    Returns
    -------
    torch.Generator
    """
    if isinstance(seed, torch.Generator):
        return seed
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator
