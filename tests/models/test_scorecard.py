"""The paper scorecard: a blank scores 0, answers given add or take away points."""

from __future__ import annotations

import numpy as np

from models.logodds import logit
from models.scorecard import make_scorecard, scorecard_points


def test_a_blank_form_scores_zero_and_its_probability_is_the_empty_forms(trained):  # type: ignore[no-untyped-def]
    model = trained.model
    for outcome in model.outcome_names:
        card = make_scorecard(model, outcome)
        blank = model.encode({})
        assert scorecard_points(card, model, blank).tolist() == [0]
        assert card.probability(0) == model.score_codes(blank)[outcome].probability[0]
        for fid, levels in card.points.items():
            field = model.encoder.fields[model.fields.index(fid)]
            assert levels[field.reference] == 0, fid
            if field.kind == "indicator":
                assert levels["declined"] == 0, fid


def test_points_track_the_model(trained):  # type: ignore[no-untyped-def]
    """offset + scale * points stays within rounding of the model's log-odds."""
    model = trained.model
    codes = model.encoder.transform(trained.splits.test).to_numpy()[:500]
    for outcome in model.outcome_names:
        card = make_scorecard(model, outcome)
        points = scorecard_points(card, model, codes)
        approx = card.offset + card.scale * points
        exact = model.score_codes(codes)[outcome].log_odds
        # each field rounds by at most half a point
        assert np.max(np.abs(approx - exact)) <= 0.5 * card.scale * len(model.fields) + 1e-9
        assert np.corrcoef(approx, exact)[0, 1] > 0.95
        assert card.medium_from <= card.high_from
        assert card.probability(card.medium_from) >= model.outcomes[outcome].threshold - 1e-12
        assert logit(card.probability(card.medium_from - 1)) < logit(model.outcomes[outcome].threshold)


def test_markdown_says_blanks_score_zero(trained):  # type: ignore[no-untyped-def]
    text = make_scorecard(trained.model, "labour").to_markdown(lang="en")
    assert "A blank form scores 0 points" in text
    assert "Not asked" not in text
    assert "Declined to answer" not in text
