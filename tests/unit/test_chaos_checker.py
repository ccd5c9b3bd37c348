"""The chaos checker catches what it exists to catch: a dropped, a duplicated and a
reordered message are each reported (injected into an otherwise perfect run)."""

from __future__ import annotations

from bench.chaos.checker import Applied, Checker, Send

DEVICES = ("ann-g", "ann-n", "bob-g", "bob-n")


def perfect_run(messages: int = 10) -> Checker:
    checker = Checker()
    for device in DEVICES:
        checker.member("c1", device)
    for pts in range(1, messages + 1):
        sender = DEVICES[pts % len(DEVICES)]
        checker.send(Send(f"m{pts}", "c1", sender, started=pts, acked_pts=pts, acked_at=pts + 0.01))
        for device in DEVICES:
            checker.apply(device, Applied("c1", pts, f"m{pts}", live=device != sender, at=pts + 0.02))
    return checker


def test_a_perfect_run_passes() -> None:
    verdict = perfect_run().verdict()
    assert verdict.ok, verdict.problems
    assert (verdict.sent, verdict.acknowledged, verdict.lost, verdict.duplicated, verdict.reordered) == (
        10,
        10,
        0,
        0,
        0,
    )
    assert verdict.delivered_live == 30 and verdict.recovered_by_sync == 0


def test_a_dropped_message_is_reported_lost_with_its_gap() -> None:
    checker = perfect_run()
    checker.applied["bob-n"] = [a for a in checker.applied["bob-n"] if a.client_msg_id != "m4"]
    verdict = checker.verdict()
    assert not verdict.ok
    assert verdict.lost == 1 and verdict.gaps == 1 and verdict.duplicated == 0 and verdict.reordered == 0
    assert any("m4" in p for p in verdict.problems)


def test_a_duplicated_message_is_reported() -> None:
    checker = perfect_run()
    checker.apply("ann-g", Applied("c1", 5, "m5", live=True, at=99))
    verdict = checker.verdict()
    assert not verdict.ok
    assert verdict.duplicated == 1 and verdict.lost == 0 and verdict.reordered == 0


def test_a_reordered_message_is_reported() -> None:
    checker = perfect_run()
    log = checker.applied["ann-n"]
    log[6], log[7] = log[7], log[6]  # pts 8 applied before pts 7
    verdict = checker.verdict()
    assert not verdict.ok
    assert verdict.reordered == 1 and verdict.lost == 0 and verdict.duplicated == 0


def test_a_message_stored_at_another_pts_than_acknowledged_is_reported() -> None:
    checker = perfect_run()
    checker.sends["m3"].acked_pts = 9  # the server acknowledged something it did not store there
    verdict = checker.verdict()
    assert not verdict.ok and verdict.reordered == len(DEVICES)


def test_an_unacknowledged_send_may_be_absent_or_present_once() -> None:
    checker = perfect_run()
    checker.send(Send("lost-answer", "c1", "ann-g", started=20, errors=[(20.5, "CONNECT_FAILED")]))
    for device in DEVICES:
        checker.apply(device, Applied("c1", 11, "lost-answer", live=True, at=21))
    checker.send(Send("never-stored", "c1", "bob-g", started=21, errors=[(21.5, "UNAVAILABLE")]))
    verdict = checker.verdict()
    assert verdict.ok, verdict.problems
    assert verdict.unacknowledged == 2 and verdict.unacknowledged_stored == 1
