"""Stage 5, interventions on the model: lenses, steering, intervention scoring, rewrites.

Modules
-------
lens
    Logit lens and tuned lens (native and tuned-lens files).
steering
    Contrastive activation addition on transformer and recurrent models.
intervention_scoring
    Adding to one latent until a target KL and scoring the explanation of
    what it promotes.
rewrite
    Partial rewrite of an MLP from simulated transcoder latents.
"""
