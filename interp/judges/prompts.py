"""Chat prompts for the explainer and the judge-based scorers.

Each function returns the ``messages`` of a :class:`~interp.judges.protocol.JudgeRequest`:
a system message stating the task and the answer format, and a user message
with the material. Highlighted tokens are written ``<<like this>>``.
"""

from __future__ import annotations

from collections.abc import Sequence

Messages = tuple[dict[str, str], ...]


def _chat(system: str, user: str) -> Messages:
    return ({"role": "system", "content": system}, {"role": "user", "content": user})


def _numbered(texts: Sequence[str]) -> str:
    return "\n".join(f"Example {i + 1}: {t}" for i, t in enumerate(texts))


EXPLAINER = (
    "You study one feature of a language model. Below are text examples where the feature is "
    "active; the tokens where it is most active are marked <<like this>>. Find the common "
    "pattern in the marked tokens and their context. Reply with one short line: "
    "'Explanation: <a few words>'."
)

DETECTION = (
    "A feature of a language model is described by an explanation. Decide whether the feature "
    "is active somewhere in the text example. Reply with 1 if it is active, 0 if not. "
    "Reply with the digit only."
)

FUZZING = (
    "A feature of a language model is described by an explanation. In the text example some "
    "tokens are marked <<like this>>. Reply with 1 if the marked tokens are the ones the "
    "explanation describes, 0 if they are not. Reply with the digit only."
)

INTRUDER = (
    "The numbered text examples all activate one feature of a language model, except one "
    "intruder that does not. Find the common pattern and reply with the number of the "
    "intruder only."
)

SIMULATION = (
    "A feature of a language model is described by an explanation. For each token of the "
    "text, predict the feature's activation on a scale from 0 (inactive) to 10 (maximal). "
    "Reply with one line of integers separated by spaces, one per token, nothing else."
)


def explainer_messages(examples: Sequence[str]) -> Messages:
    """Ask for an explanation of a latent from highlighted activating examples."""
    return _chat(EXPLAINER, _numbered(examples))


def detection_messages(explanation: str, text: str) -> Messages:
    """Ask whether an unhighlighted example activates the explained latent."""
    return _chat(DETECTION, f"Explanation: {explanation}\nText: {text}\nActive (1 or 0):")


def fuzzing_messages(explanation: str, highlighted: str) -> Messages:
    """Ask whether the highlighted tokens of an example match the explanation."""
    return _chat(FUZZING, f"Explanation: {explanation}\nText: {highlighted}\nCorrect (1 or 0):")


def intruder_messages(texts: Sequence[str]) -> Messages:
    """Ask which numbered example is the intruder."""
    return _chat(INTRUDER, f"{_numbered(texts)}\nIntruder (1-{len(texts)}):")


def simulation_messages(explanation: str, tokens: Sequence[str]) -> Messages:
    """Ask for a 0-10 activation for each listed token."""
    listed = " | ".join(repr(t) for t in tokens)
    return _chat(
        SIMULATION,
        f"Explanation: {explanation}\nTokens ({len(tokens)}): {listed}\nActivations:",
    )
