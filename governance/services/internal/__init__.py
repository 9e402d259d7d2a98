"""What the services share and nothing else calls: finding and locking rows (guards), the
checks of configuration (config_checks, policy_checks) and of requests (validation, patterns),
retrying (retry), handing work to the workers (dispatch) and chunked bulk work (bulk).

The modules directly under governance/services are the entry points that admin, API, pages,
tasks and commands call; tests and benchmarks may reach in here.
"""
