"""Reading judges' replies: answers after a cue, refused ambiguity, echo-only explanations.

Every judge-based scorer is run with a judge that writes *text* (as a language model does) and
goes through :func:`interp.judges.protocol.parse_answer`: replies that echo the prompt's cue
must be read right, ambiguous replies must be failures that keep the raw reply.
"""

from dataclasses import dataclass, field

import pytest
from interp_scoring_data import DECODE, synthetic_cache

from interp.activations.examples import ExampleConfig, build_examples
from interp.judges.explain import explain_latents, explainer_request
from interp.judges.protocol import JudgeRequest, parse_answer, prompt_cue
from interp.judges.prompts import (
    detection_messages,
    explainer_messages,
    fuzzing_messages,
    intruder_messages,
    simulation_messages,
)
from interp.scorers.scoring import detection_score, fuzzing_score, intruder_score, simulation_score


def _req(messages, kind, n=2):
    return JudgeRequest(messages, kind, n_options=n)


DETECTION = _req(detection_messages("animal names", "the cat sat"), "binary")
FUZZING = _req(fuzzing_messages("animal names", "the <<cat>> sat"), "binary")
INTRUDER = _req(intruder_messages(["a 1", "b 2", "c 3", "d 4", "e 5"]), "choice", 5)
SIMULATION = _req(simulation_messages("animal names", ["w1", "cat", "w22"]), "scores", 3)
EXPLAINER = _req(explainer_messages(["the <<cat>> sat", "a <<dog>> ran"]), "text")


def test_prompt_cues_are_the_last_lines():
    assert prompt_cue(DETECTION) == "Active (1 or 0):"
    assert prompt_cue(FUZZING) == "Correct (1 or 0):"
    assert prompt_cue(INTRUDER) == "Intruder (1-5):"
    assert prompt_cue(SIMULATION) == "Activations:"
    assert prompt_cue(EXPLAINER) == ""  # the explainer's prompt ends with an example


@pytest.mark.parametrize(
    ("request_", "text", "value"),
    [
        (DETECTION, "Active (1 or 0): 0", 0),
        (DETECTION, "Active (1 or 0): 1", 1),
        (DETECTION, "active (1 or 0):\n\n0", 0),
        (DETECTION, "Explanation: animal names\nText: the cat sat\nActive (1 or 0): 0", 0),
        (DETECTION, "Active: 0", 0),
        (DETECTION, "Yes or no: no", 0),
        (DETECTION, "Yes or no: yes", 1),
        (DETECTION, "1 or 0? 0", 0),
        (DETECTION, "No, it is not active. 0", 0),
        (FUZZING, "Correct (1 or 0): 0", 0),
        (FUZZING, "Correct (0/1): 1", 1),
        (INTRUDER, "Intruder (1-5): 3", 2),
        (INTRUDER, "Intruder (1-5): 1", 0),
        (INTRUDER, "Example 1: a 1\nExample 2: b 2\nIntruder (1-5): 4", 3),
        (INTRUDER, "The intruder (one of 1-5) is 5", 4),
        (INTRUDER, "Examples 1 to 5 ... the odd one: 2", 1),
        (SIMULATION, "Activations: 0 10 0", [0.0, 10.0, 0.0]),
        (SIMULATION, "Tokens (3): 'w1' | 'cat' | 'w22'\nActivations: 1 9 0", [1.0, 9.0, 0.0]),
        (SIMULATION, "On a scale from 0 to 10: 2 8 1", [2.0, 8.0, 1.0]),
    ],
)
def test_answers_after_a_cue_are_read(request_, text, value):
    answer = parse_answer(request_, text)
    assert answer.ok, answer.error
    assert answer.value == value and answer.text == text


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        (DETECTION, "1 ... no, 0"),
        (DETECTION, "Yes. 0"),
        (DETECTION, "Active (1 or 0): 1 0"),
        (DETECTION, "true, false"),
        (FUZZING, "Correct (1 or 0): yes, but 0"),
        (INTRUDER, "Example 2 or example 4"),
        (INTRUDER, "Intruder (1-5): 2, 3"),
    ],
)
def test_ambiguous_replies_are_refused_with_the_raw_reply(request_, text):
    answer = parse_answer(request_, text)
    assert not answer.ok and answer.value is None
    assert answer.error.startswith("ambiguous answer")
    assert answer.text == text and text.split()[0] in answer.error


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        (DETECTION, "Active (1 or 0):"),
        (DETECTION, "Yes or no:"),
        (INTRUDER, "Intruder (1-5):"),
        (SIMULATION, "Tokens (3): 'w1' | 'cat' | 'w22'\nActivations:"),
        (SIMULATION, "Activations: 0 10"),
    ],
)
def test_cue_echo_without_an_answer_is_malformed(request_, text):
    answer = parse_answer(request_, text)
    assert not answer.ok and answer.error.startswith("malformed answer")


@pytest.mark.parametrize(
    "text",
    [
        "The common pattern in the marked tokens is:",
        "Explanation: The common pattern in the marked tokens is:",
        "Explanation: <a few words>",
        "the marked tokens and their context",
        "Explanation:",
    ],
)
def test_echo_only_explanations_are_refused(text):
    answer = parse_answer(EXPLAINER, text)
    assert not answer.ok and answer.error.startswith("malformed answer") and answer.text == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Explanation: animal names", "animal names"),
        ("The common pattern in the marked tokens is:\nanimal names", "animal names"),
        ("Explanation:\n<<pets>> and farm animals", "pets and farm animals"),
    ],
)
def test_real_explanations_are_kept(text, value):
    answer = parse_answer(EXPLAINER, text)
    assert answer.ok and answer.value == value


# -- every scorer through text replies ---------------------------------------------------------


@dataclass
class TextJudge:
    """A judge that writes a reply from the true answer and parses it like a language model's.

    ``reply(request, i)`` returns the raw text for the i-th request.
    """

    reply: object
    name: str = "text"
    sent: list = field(default_factory=list)

    def answer(self, requests):
        answers = []
        for request in requests:
            text = self.reply(request, len(self.sent))
            self.sent.append(text)
            answers.append(parse_answer(request, text))
        return answers


def _echo(request, answer):
    """The whole user message echoed back, then the answer (what chatty HTTP judges do)."""
    return f"{request.messages[-1]['content']} {answer}"


def _binary_reply(ambiguous_every):
    def reply(request, i):
        if ambiguous_every and i % ambiguous_every == 0:
            return f"{prompt_cue(request)} {request.truth}, or rather {1 - request.truth}"
        return _echo(request, request.truth)

    return reply


@pytest.fixture(scope="module")
def examples():
    cache = synthetic_cache(rows=300, ctx_len=32, p_animal=0.05, seed=3)
    config = ExampleConfig(window=8, n_quantiles=4, n_train=10, n_test_per_quantile=8)
    return build_examples(cache, 0, DECODE, config, seed=0)


@pytest.mark.parametrize("scorer", [detection_score, fuzzing_score])
def test_binary_scorers_read_echoed_cues_and_count_ambiguity(examples, scorer):
    clean = scorer(TextJudge(_binary_reply(0)), "animal names", examples)
    assert clean.n_failed == 0 and clean.metrics["balanced_accuracy"] == 1.0
    judge = TextJudge(_binary_reply(4))
    mixed = scorer(judge, "animal names", examples)
    assert mixed.n_items == len(judge.sent)
    assert mixed.n_failed == len(range(0, mixed.n_items, 4))
    assert mixed.metrics["balanced_accuracy"] == 1.0  # the refused replies are not guessed
    assert mixed.errors and all(e.startswith("ambiguous answer") for e in mixed.errors)
    assert "or rather" in mixed.errors[0]  # the raw reply is kept


def test_intruder_reads_echoed_cues_and_counts_ambiguity(examples):
    def reply(request, i):
        right = request.truth + 1
        if i % 3 == 0:
            other = right % request.n_options + 1
            return f"Intruder (1-{request.n_options}): {right} or {other}"
        return _echo(request, right)  # the echo holds "Example 1: ..." to "Example 5: ..."

    judge = TextJudge(reply)
    result = intruder_score(judge, None, examples, n_options=4, tasks_per_quantile=6)
    assert result.n_items == len(judge.sent) >= 12
    assert result.n_failed == len(range(0, result.n_items, 3))
    assert result.metrics["accuracy"] == 1.0
    assert all(e.startswith("ambiguous answer") for e in result.errors)


def test_simulation_reads_scores_after_an_echoed_token_list(examples):
    def reply(request, i):
        scores = " ".join(str(round(v)) for v in request.truth)
        if i % 5 == 0:
            return _echo(request, "")  # the echo of 'w12' | 'w3' ... holds digits, no scores
        return _echo(request, scores)

    judge = TextJudge(reply)
    result = simulation_score(judge, "animal names", examples)
    assert result.n_failed == len(range(0, result.n_items, 5))
    assert result.metrics["pearson"] > 0.99
    assert result.errors[0].startswith("malformed answer")


def test_explanations_that_echo_the_prompt_fail_and_keep_the_reply(examples):
    replies = iter(["The common pattern in the marked tokens is:", "Explanation: animal names"])
    judge = TextJudge(lambda request, i: next(replies))
    first = explain_latents(judge, {0: examples})[0]
    assert first.text is None and first.error.startswith("malformed answer")
    assert first.reply == "The common pattern in the marked tokens is:"
    second = explain_latents(judge, {0: examples})[0]
    assert second.text == "animal names" and second.error is None
    assert explainer_request(examples).kind == "text"


def test_old_first_integer_misreads_are_gone():
    """The replies the first-integer parser misread (issue: 1, option 1, 1)."""
    assert parse_answer(DETECTION, "Active (1 or 0): 0").value == 0
    assert parse_answer(INTRUDER, "Intruder (1-5): 3").value == 2
    assert parse_answer(DETECTION, "Yes or no: no").value == 0


def test_spot_judge_matcher_reads_echoes_and_counts_ambiguity():
    from interp.verification.spot import Finding, JudgeMatcher

    annotated = [Finding("Eq. 3", "sign error in the flux"), Finding("Table 1", "wrong units")]
    reported = [Finding("Eq. 3", "sign error in the flux"), Finding("page 2", "typo in a name")]

    def reply(request, i):
        content = request.messages[-1]["content"]
        known = content.split("Known error")[1].split(": ", 1)[1].split("\n")[0]
        said = content.split("Reported error")[1].split(": ", 1)[1].split("\n")[0]
        if said == "typo in a name":  # a reply that says both
            return "Same error? Answer 1 or 0. Yes, 0"
        return f"{content} {int(known == said)}"  # the whole prompt echoed, then the answer

    matcher = JudgeMatcher(TextJudge(reply))
    matches = matcher(reported, annotated)
    assert matches.tolist() == [[True, False], [False, False]]
    assert matcher.failures == 2  # both questions about the second report were ambiguous
