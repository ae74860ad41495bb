"""Sign-pattern shares of the outgoing weights, on hand-made draws."""

import numpy as np
import pytest

from phasedsl.analysis.modes import mode_finding, sign_patterns
from phasedsl.output.notes import note_lines


def mode_notes(patterns):
    finding = mode_finding(patterns)
    return [] if finding is None else note_lines(finding)


def test_shares_per_group_and_overall():
    q = np.ones((2, 4, 2))
    q[1, :, 1] = -1.0          # chain 2 sits in (+, -) throughout
    q[0, 0, 0] = -1.0          # one draw of chain 1 in (-, +)
    out = sign_patterns(q)
    assert out["groups"][0] == {"++": 0.75, "-+": 0.25}
    assert out["groups"][1] == {"+-": 1.0}
    assert out["shares"] == pytest.approx({"++": 0.375, "+-": 0.5, "-+": 0.125})
    notes = mode_notes(out)
    assert notes == ["chain 1 sits mostly in the sign pattern q = (+, +)",
                     "chain 2 sits mostly in the sign pattern q = (+, -)"]


def test_weights_and_agreeing_groups():
    q = np.array([[[1.0, 1.0], [1.0, -1.0]]])
    out = sign_patterns(q, np.array([[0.2, 0.8]]))
    assert out["shares"] == pytest.approx({"++": 0.2, "+-": 0.8})
    assert mode_notes(out) == []
