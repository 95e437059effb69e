"""The annotator loop the fault tests run against a live server while they break it."""

import threading
import time
import uuid

import requests

from tests.live_server import EmbeddedServer


def annotate(server, client, acked: list, stop: threading.Event, errors: list) -> None:
    """Leases and submits until told to stop; a submission is retried with its client key
    until the server acknowledges it (201, or 409 for a key it already stored)."""
    while not stop.is_set():
        try:
            lease = client.post(server.url("/api/v1/tasks/next/"), timeout=10)
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if lease.status_code == 204:
            return
        if lease.status_code != 200:
            time.sleep(0.2)
            continue
        for task in lease.json()["tasks"]:
            key = str(uuid.uuid4())
            body = {"text": f"w{task['id']}", "client_key": key, "elapsed_ms": 900}
            while True:
                try:
                    answer = client.post(
                        server.url(f"/api/v1/tasks/{task['id']}/submit/"), json=body, timeout=10
                    )
                except requests.RequestException:
                    time.sleep(0.3)  # the server is down: keep the label, send it again
                    continue
                if answer.status_code == 201:
                    acked.append(key)
                elif answer.status_code >= 500:
                    errors.append(answer.status_code)
                    time.sleep(0.3)
                    continue
                break


def stored_client_keys(server: EmbeddedServer) -> list[str]:
    """The client key of every label the server's database holds."""
    out = server.django(
        "from annotations.models import Label\n"
        "print(','.join(str(k) for k in Label.objects.values_list('client_key', flat=True)))\n"
    )
    return out.strip().split(",")
