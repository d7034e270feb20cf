"""The benchmark harness: tasks (native, OSWorld, AndroidWorld style), suites, evaluators, the parallel
runner, results in OSWorld's layout with summaries, and the oracle model.

`guiagent bench SUITE|PATH --model SPEC` is `harness.cli.main`.
"""
