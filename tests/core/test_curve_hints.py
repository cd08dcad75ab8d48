"""Curve hints from constructed histories: each says what it saw, from which epoch, and what to try."""

from playground.core.curve_hints import curve_hints


def history(train, val=None, reason=""):
    val = val or [None] * len(train)
    return {"epochs": [{"epoch": i + 1, "train_loss": t, "val_loss": v} for i, (t, v) in enumerate(zip(train, val))],
            "reason": reason}


def kinds(h):
    return [(x.kind, x.epoch) for x in curve_hints(h)]


def test_a_healthy_run_gets_no_hint():
    assert curve_hints(history([1.0, 0.7, 0.5, 0.38, 0.3, 0.24, 0.2], [1.1, 0.8, 0.6, 0.5, 0.42, 0.38, 0.35])) == []
    assert curve_hints({"epochs": []}) == [] and curve_hints({}) == []


def test_overfitting_is_dated_from_the_first_epoch_the_validation_loss_rose():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1]
    val = [1.0, 0.7, 0.5, 0.55, 0.6, 0.7, 0.8]
    hints = curve_hints(history(train, val))
    assert [(h.kind, h.epoch) for h in hints] == [("overfitting", 4)]
    assert "epoch 3" in hints[0].suggestion and "early stopping" in hints[0].suggestion
    assert "0.5" in hints[0].text and "0.8" in hints[0].text


def test_one_bad_validation_epoch_is_not_overfitting():
    assert kinds(history([1.0, 0.6, 0.4, 0.3, 0.2], [1.0, 0.7, 0.5, 0.6, 0.45])) == []


def test_both_losses_rising_is_divergence_not_overfitting():
    train = [1.0, 0.5, 0.4, 0.7, 1.0, 1.5]
    assert kinds(history(train, [1.0, 0.5, 0.45, 0.8, 1.2, 1.8])) == [("divergence", 4)]


def test_a_plateau_is_dated_from_where_the_loss_stopped_moving():
    train = [2.0, 1.2, 0.9, 0.801, 0.800, 0.799, 0.800, 0.801, 0.800]
    hints = curve_hints(history(train))
    assert [(h.kind, h.epoch) for h in hints] == [("plateau", 4)]
    assert "learning rate" in hints[0].suggestion


def test_a_loss_that_reached_zero_is_done_not_stuck():
    assert kinds(history([1.0, 0.01, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6])) == []


def test_a_non_finite_loss_is_divergence_at_the_epoch_it_happened():
    hints = curve_hints(history([1.0, 0.9], reason="the loss became nan at epoch 3, step 2: ..."))
    assert [(h.kind, h.epoch) for h in hints] == [("divergence", 3)]
    assert "gradient clipping" in hints[0].suggestion


def test_an_oscillating_loss_means_the_learning_rate_is_too_high():
    train = [1.0, 0.8, 0.6, 0.9, 0.55, 0.85, 0.5, 0.8, 0.5]
    hints = curve_hints(history(train))
    assert [h.kind for h in hints] == ["oscillation"]
    assert hints[0].epoch == 4 and "too high" in hints[0].suggestion
    assert str(hints[0]).startswith("The loss oscillates from epoch 4")
