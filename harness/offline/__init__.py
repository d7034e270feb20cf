"""Offline benchmarks: independent samples (a screenshot, an instruction, a ground truth), no env.

- `screenspot`: ScreenSpot and ScreenSpot-Pro grounding (point inside the target box);
- `androidcontrol`: AndroidControl step-level action matching, high and low settings;
- `runner`: runs any of them with workers, resume from ``samples.jsonl`` and live progress;
- `oracle`: the ground-truth model for these suites; `report`: the misses page.
"""
