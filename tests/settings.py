"""The tests' settings: portal.settings itself, read with a test machine's environment.

Only what the environment does not already give is filled in, before portal.settings reads
it, so the suite runs the production code paths (DEBUG off, SECRETS_KEY required, secure
cookies, HSTS, the CSP). Plain http is the one difference: the test client and the live
server do not speak TLS. The production checks themselves run portal.settings in a
subprocess with a production environment (tests/integration/test_production_settings.py).
"""

import os

TEST_ENVIRONMENT = {
    "SECRET_KEY": "tests-only-secret-key-" + "0123456789" * 4,
    "SECRETS_KEY": "tests-only-secrets-key-" + "abcdefghij" * 3,
    "SECURE_SSL_REDIRECT": "0",
}
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

from portal.settings import *  # noqa: E402,F403
