"""Every state change of the engine. Pages, admin, API, tasks and commands call these only."""
