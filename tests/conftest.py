"""Session fixtures start real components; each area keeps its own in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.desktop",
    "tests.fixtures.android",
    "tests.fixtures.tiny_model",
]
