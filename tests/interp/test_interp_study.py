"""The seed-dependence study script (quick mode)."""

import pytest

pytest.importorskip("torch")
from click.testing import CliRunner  # noqa: E402

from interp.studies.seed_dependence import QUICK, format_table, main, run_dataset  # noqa: E402


def test_quick_study_matches_l0_and_reports_fractions():
    result = run_dataset(QUICK, 0, progress=False)
    topk, relu = result.architectures
    assert (topk.name, relu.name) == ("topk", "relu+l1")
    assert all(e.l0 <= QUICK.k + 1e-6 for e in topk.evaluations)
    # the L1 coefficient was bisected until the first ReLU seed matched the TopK L0
    assert relu.l1_coefficient is not None and relu.n_probes >= 2
    assert relu.evaluations[0].l0 == pytest.approx(result.target_l0, rel=QUICK.rel_tol)
    for arch in (topk, relu):
        s = arch.shared
        assert 0.0 < s.both <= min(s.decoder, s.encoder) <= 1.0
        assert all(0.0 <= r <= 1.0 for r in arch.recovered)
    table = format_table(QUICK, [result])
    assert "relu+l1" in table and "shared dec" in table
    assert f"{relu.shared.decoder:.3f}" in table


def test_study_command_line_prints_table():
    res = CliRunner().invoke(main, ["--quick", "--steps", "200"])
    assert res.exit_code == 0, res.output
    assert "Seed dependence" in res.output and "wall time" in res.output
    assert len([line for line in res.output.splitlines() if line.startswith("0 ")]) == 2
