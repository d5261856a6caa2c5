"""wmtui's benchmark suite (issue 5): `uv run python -m benchmarks`, never part of the test run.

Everything runs against the emulator on 127.0.0.1; figures and targets go to the terminal and to
benchmarks/RESULTS.md.
"""
