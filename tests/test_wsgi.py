"""The WSGI module the server imports: the whole app loaded up front, then frozen out of
the garbage collector's way."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import gc, json, sys
import dropturk.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "views_loaded": "annotations.api.views" in sys.modules,
}))
"""


def test_importing_the_app_loads_its_views_and_freezes_what_it_built():
    # When a fresh interpreter imports the WSGI app, as a server worker does
    finished = subprocess.run(  # noqa: S603  our own argv
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dropturk.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then the views are imported already (the URLconf was built, not left to the first
    # request), and the objects built so far are frozen: a full collection walks only what
    # requests create afterwards
    assert finished.returncode == 0, finished.stderr[-3000:]
    probe = json.loads(finished.stdout.strip().splitlines()[-1])
    assert probe["views_loaded"]
    assert probe["frozen"] > 50_000
    assert probe["tracked"] < probe["frozen"] / 10
