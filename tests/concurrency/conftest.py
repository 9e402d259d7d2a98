import pytest


@pytest.fixture
def world_database(transactional_db):
    """Committed for real: the threads under test read it over their own connections."""
@pytest.fixture(autouse=True)
def _own_task_queue(task_queue):
    """Tasks are published for real, to a queue no worker reads: the threads under test are
    the only workers."""
    return task_queue
