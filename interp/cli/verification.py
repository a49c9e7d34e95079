"""Command of the verification stage: ``interp spot``.

Prints a short table and exits with status 1 and a one-line ``Error: ...``
message on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from interp.cli.common import _print_table, _user_errors
from interp.cli.interventions import _json_option, _write_json

@click.command()
@click.option(
    "--annotated",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Annotated findings (.json list or .jsonl): location, description, item.",
)
@click.option(
    "--reported",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reported findings, same format, with an optional 'run' field for repeated runs.",
)
@click.option(
    "--match",
    type=click.Choice(["location", "judge"]),
    default="location",
    show_default=True,
    help="Match by equal (normalised) location, or ask a judge.",
)
@click.option("--judge-base-url", default=None, help="OpenAI-compatible server for --match judge.")
@click.option("--judge-model", default=None, help="Model name for --match judge.")
@click.option(
    "--same-location-only", is_flag=True, help="Ask the judge only about pairs at one location."
)
@_json_option
def spot(**opts: Any) -> None:
    """Precision and recall of reported findings against annotated ones, over repeated runs."""
    with _user_errors():
        from interp.verification.spot import (
            Finding,
            JudgeMatcher,
            location_matches,
            read_findings,
            run_consistency,
            split_runs,
        )

        annotated = [Finding.from_dict(r) for r in read_findings(opts["annotated"])]
        runs = split_runs(read_findings(opts["reported"]))
        matcher: Any = location_matches
        if opts["match"] == "judge":
            from interp.judges.http import OpenAIJudge

            judge = OpenAIJudge(base_url=opts["judge_base_url"], model=opts["judge_model"])
            matcher = JudgeMatcher(judge, same_location_only=opts["same_location_only"])
        summary = run_consistency(runs, annotated, matcher)
    rows = [
        [str(i), str(r.n_reported), str(r.n_matched), f"{r.precision:.3f}", f"{r.recall:.3f}"]
        for i, r in enumerate(summary.runs)
    ]
    click.echo(
        f"{len(annotated)} annotated findings, {len(runs)} run(s), matched by {opts['match']}"
    )
    _print_table(["run", "reported", "matched", "precision", "recall"], rows)
    click.echo("")
    _print_table(["metric", "value"], [[k, f"{v:.3f}"] for k, v in summary.summary().items()])
    _write_json(
        opts["json_path"],
        {**summary.summary(), "detection_rate": summary.detection_rate.tolist()},
    )


COMMANDS = (spot,)
