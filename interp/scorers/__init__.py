"""Stage 4, scorers and metrics: how well explanations (or examples) pick out a latent.

Modules
-------
scoring
    Detection, fuzzing, simulation, embedding and surprisal scorers, and the
    explanation-free intruder and example-embedding scorers.
metrics
    Balanced accuracy, precision, recall, F1, AUC and Pearson correlation.
summaries
    Means across latents with seeded bootstrap intervals.
results
    Per-latent result rows in JSON lines or netCDF.
"""
