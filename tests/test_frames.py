"""What keeps a key press quick under a refresh, as rules (the timing is in benchmarks/, item 3).

- The app tunes the garbage collector while it runs (WmtuiApp._settle_heap) and puts it back.
"""

from __future__ import annotations

import gc
from pathlib import Path

from test_ui_fakes import FakeService, build_app, standard_jobs

from wmtui.ui.app import YOUNG_GENERATION


async def test_the_collector_is_tuned_while_the_app_runs_and_put_back(tmp_path: Path) -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    jobs = standard_jobs()
    app = build_app(tmp_path, FakeService(jobs), [job.key for job in jobs])
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert gc.get_threshold() == (max(before[0], YOUNG_GENERATION), *before[1:])
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
