"""The benchmark harness: tasks (native, OSWorld, AndroidWorld style), suites, evaluators, the parallel
runner, results in OSWorld's layout with summaries, and the oracle model.

`guiagent bench SUITE|PATH --model SPEC` is `guiagent.cli.bench.main`. Imports point one way, bottom up:

- `base`: the shared vocabulary (Task, InvalidTask, Sandbox, Outcome, SuiteConfig, the errors, seeds);
- `steps` (setup/postconfig steps), `plan` (ground-truth plans), `evaluators` (metrics and getters);
- the task formats, each on its own: `native`, `osworld`, `androidworld`;
- `loader`: picks a format for each file of a suite;
- `remote_env` and `sandboxes` (`browser`, `desktop`, `android`, and `open_sandbox`): the envs a worker owns;
- `oracle` (the ground-truth model), `results`, `progress`, and `runner` on top.
"""
