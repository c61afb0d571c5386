from tests.reports.world import march_world  # noqa: F401  (the hand-built March, shared by the report tests)
