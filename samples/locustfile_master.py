"""A locustfile for a Locust master whose workers are rrload processes.

The master only needs User classes to split users between workers: their names and weights
decide how many users of each class every worker runs. With `rrload worker FILE.db`, a class
name is the name of a flow in FILE.db (see `rrload show FILE.db flows`): rename, add or weight
the classes below to match your flows. The tasks never run on the master.

    locust -f samples/locustfile_master.py --master --headless -u 100 -r 50 -t 1m \
        --expect-workers 2 --csv run
    rrload worker FILE.db --master-host MASTER     (on each worker machine)
"""
from locust import User, constant, task


class RrloadUser(User):
    """Default class: a worker with one flow maps it to this name."""

    weight = 3
    wait_time = constant(0)

    @task
    def replay(self):
        pass


class RrloadApiUser(User):
    weight = 1
    wait_time = constant(0)

    @task
    def replay(self):
        pass
