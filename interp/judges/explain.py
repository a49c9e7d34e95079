"""The explainer: a judge writes a short explanation of each latent from its top examples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from interp.activations.examples import LatentExamples, render
from interp.judges.protocol import Judge, JudgeRequest, ProgressJudge
from interp.judges.prompts import explainer_messages


@dataclass(frozen=True)
class Explanation:
    """A latent's explanation, or why there is none.

    Attributes
    ----------
    latent : int
        The latent.
    text : str or None
        The explanation; ``None`` when the judge failed.
    judge : str
        Name of the judge that wrote it.
    error : str or None
        The judge's error, if any.
    reply : str or None
        The judge's raw reply when it could not be used (kept for diagnosis).
    """

    latent: int
    text: str | None
    judge: str
    error: str | None = None
    reply: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready row."""
        return {
            "latent": self.latent,
            "explanation": self.text,
            "judge": self.judge,
            "error": self.error,
            "reply": self.reply,
        }


def explainer_request(
    examples: LatentExamples,
    *,
    n_examples: int | None = None,
    threshold: float = 0.3,
    max_tokens: int = 48,
) -> JudgeRequest:
    """The request asking for one latent's explanation.

    Parameters
    ----------
    examples : LatentExamples
        The latent's examples; the explainer sees ``examples.train``.
    n_examples : int, optional
        Show only the first this many training examples.
    threshold : float
        Highlight tokens with activation >= ``threshold`` times the example's maximum.
    max_tokens : int
        Cap on the explanation's length in tokens.

    Returns
    -------
    JudgeRequest
        Of kind ``"text"``; no known answer.
    """
    shown = examples.train[:n_examples] if n_examples else examples.train
    if not shown:
        raise ValueError(f"latent {examples.latent} has no training examples to explain from")
    texts = [render(e.tokens, e.highlight(threshold)) for e in shown]
    return JudgeRequest(explainer_messages(texts), "text", max_tokens=max_tokens)


def explain_latents(
    judge: Judge,
    examples: Mapping[int, LatentExamples],
    *,
    n_examples: int | None = None,
    threshold: float = 0.3,
    progress: bool | None = False,
) -> dict[int, Explanation]:
    """Explain every latent with one batch of judge requests.

    Parameters
    ----------
    judge : Judge
        Writes the explanations.
    examples : mapping of int to LatentExamples
        Examples per latent.
    n_examples, threshold : optional
        As in :func:`explainer_request`.
    progress : bool or None
        Show a bar of the latents explained (``None``: only on a terminal).

    Returns
    -------
    dict of int to Explanation
        In the order of ``examples``; failed explanations keep the error.
    """
    latents = list(examples)
    requests = [
        explainer_request(examples[k], n_examples=n_examples, threshold=threshold) for k in latents
    ]
    asked = ProgressJudge(judge, "explaining", disable=None if progress is None else not progress)
    answers = asked.answer(requests)
    if len(answers) != len(requests):
        raise RuntimeError(f"judge {judge.name} gave {len(answers)} answers to {len(requests)}")
    return {
        k: Explanation(
            k,
            str(a.value) if a.ok else None,
            judge.name,
            a.error,
            None if a.ok else a.text,
        )
        for k, a in zip(latents, answers, strict=True)
    }
