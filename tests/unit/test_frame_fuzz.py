"""Generated native frames against the codec and session, in process (no I/O): zero
crashes, and every connection ends with a documented DISCONNECT or keeps working.
20,000 frames here; `python -m bench.fuzz` runs 1,000,000."""

from __future__ import annotations

import os

from tests.support.frame_fuzz import run


def test_generated_frames_never_crash_the_session() -> None:
    frames = int(os.environ.get("FRAME_FUZZ_FRAMES", "20000"))
    report = run(frames, seed=int(os.environ.get("FRAME_FUZZ_SEED", "11")))
    assert report.frames >= frames
    # Both outcomes happen, so the generator reaches past the first bad byte.
    assert report.alive > 0 and sum(report.closed.values()) > 0, report
    assert {"PROTOCOL_ERROR", "PAYLOAD_TOO_LARGE"} <= set(report.closed), report
