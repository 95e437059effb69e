"""Many annotators leasing at once on PostgreSQL: nobody ever gets a task someone holds."""

import threading
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections

from annotations import roles
from annotations.models import Task
from annotations.services import service_token_create, task_lease_next
from tests import factories

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL; `make test` runs on it")


def test_concurrent_leasing_never_hands_out_a_task_twice(postgres_only):
    # Given 120 open tasks and 8 annotators
    token, _ = service_token_create(name="load")
    confidences = [(i % 17) / 17 for i in range(120)]
    factories.make_ready_donation(source=token, confidences=confidences)
    group, _ = Group.objects.get_or_create(
        name=roles.ANNOTATOR
    )  # flushed by earlier transactional tests
    people = []
    for i in range(8):
        user = factories.UserFactory(username=f"worker{i}")
        user.groups.add(group)
        people.append(user)

    leased: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))
    lock = threading.Lock()

    def work(user) -> None:
        try:
            start.wait()
            while True:
                tasks = task_lease_next(user=user, count=3)
                new = [t.pk for t in tasks]
                # Mark them done so the next call moves on (as a submit would).
                Task.objects.filter(pk__in=new, leased_to=user).update(status="done")
                if not new:
                    return
                with lock:
                    leased.extend((user.pk, pk) for pk in new)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    # When they all lease at once
    threads = [threading.Thread(target=work, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then every task was leased exactly once, and more than one annotator got work
    assert errors == []
    counts = Counter(pk for _, pk in leased)
    assert len(counts) == 120
    assert max(counts.values()) == 1
    assert len({user_pk for user_pk, _ in leased}) > 1
