"""Stage 1, sparse coders: their definition, training, evaluation and files.

Modules
-------
config
    :class:`~interp.coders.config.CoderConfig`, the ``cfg.json`` of a coder.
sparse_coder
    TopK, GroupMax, ReLU and JumpReLU coders (SAEs, transcoders, skip transcoders).
metrics
    Fraction of variance unexplained, L0, dead latents, whole-dataset evaluation.
training, calibration
    The training loop (one coder per seed, AuxK, Multi-TopK, checkpoints) and
    the bisection of the L1 coefficient to a target L0.
io, saelens
    Coder folders in the native/sparsify layout and in SAELens's; activation files.
synthetic, matching
    Synthetic activations with known features; Hungarian matching of latents
    across seeds and recovery of true features.
"""
