"""Stage 3, judges: the language models (or scripts) that explain latents and answer questions.

Modules
-------
protocol
    The judge protocol (requests, answers), the reply parser that reads answers
    after a prompt's cue and refuses ambiguous ones, scripted judges and the
    progress-bar wrapper.
http, local
    An OpenAI-compatible HTTP judge and a local transformers judge (by default
    the bundled SmolLM2-135M-Instruct).
prompts, explain
    The chat prompts, and the explainer that writes one explanation per latent.
"""
