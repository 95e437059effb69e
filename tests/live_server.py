"""The app as `make run` starts it, for tests that drive it through HTTP.

``EmbeddedServer`` is the embedded default of ``dropturk/settings.py`` in a folder of its
own: the SQLite database, the encrypted blob folder, the filesystem broker and the
generated secrets all under ``data_dir``; no PostgreSQL, Redis or S3. It runs the two
processes of ``Procfile.dev``: the web server (``manage.py runserver``, without the
autoreloader) on a free port, and a real Celery worker with beat. ``DJANGO_DEBUG=1`` as
`make run` sets it (plain-HTTP cookies ``sessionid``/``csrftoken``).

Use it through the ``embedded_server`` fixture (``tests/conftest.py``, one server per test
module), or ``with EmbeddedServer.started(path) as server:``. What it offers:

- ``server.base_url`` (``http://127.0.0.1:PORT``), ``server.url(path)``;
- ``server.manage(*args)``: ``manage.py`` against its database (a CompletedProcess);
- ``server.django(code)``: Python run with Django set up against its database (stdout);
- ``server.create_person(username, roles=[...])``: an account with a password and a TOTP
  authenticator (``Person``: username, password, totp_secret);
- ``server.session(username)``: a ``requests.Session`` signed in as after password +
  TOTP (a session row made the way ``django.contrib.auth.login`` makes one, as the
  benchmarks do), with the CSRF cookie and header set for API calls and forms;
- ``server.sign_in(person)``: the same through the real sign-in and MFA forms;
  ``reauthenticate(server, client, person)``: the password confirmed again (exports'
  download, a model's promotion);
- ``server.service_token(name, scopes)``: a raw service token (``create_service_token``);
- ``server.wait_for(predicate, timeout=...)``: polls until the predicate is true;
- ``server.log("web" | "worker")``: a process's output so far, for failure messages.

The test process's own database (pytest-django's) is not the server's: read and write
the server's data through HTTP, ``manage`` or ``django``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CSRF_TOKEN = "c" * 32  # Django accepts a 32-character token chosen by the client
# The variables that would point the app at a server or a secret of the suite's own.
_NOT_INHERITED = (
    "DATABASE_URL",
    "REDIS_URL",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "DROPTURK_MASTER_KEY",
    "DJANGO_SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "DROPTURK_DATA_DIR",
    "DROPTURK_SECRETS_DIR",
)


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    totp_secret: str


def free_port() -> int:
    """A port nobody listens on now (bound to port 0, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def totp_code(secret: str, *, at: float | None = None) -> str:
    from tests.factories import totp_code as code

    return code(secret, at=at)


class EmbeddedServer:
    def __init__(self, data_dir: Path, *, worker_concurrency: int = 1) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.worker_concurrency = worker_concurrency
        self.env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        self.env.update(
            DJANGO_SETTINGS_MODULE="dropturk.settings",
            DROPTURK_DATA_DIR=str(self.data_dir),
            DROPTURK_SECRETS_DIR=str(self.data_dir / "secrets"),
            DJANGO_DEBUG="1",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        self._processes: dict[str, subprocess.Popen] = {}

    # --- Life cycle ---------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def started(cls, data_dir: Path, **options) -> Iterator[EmbeddedServer]:
        server = cls(data_dir, **options)
        try:
            server.start()
            yield server
        finally:
            server.stop()

    def start(self, *, timeout: float = 120.0) -> None:
        """Migrates a fresh database, then starts the web server and the worker and waits
        until both answer."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "--verbosity=0")
        self._spawn(
            "web",
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
        )
        self._spawn(
            "worker",
            [
                *(str(Path(sys.executable).parent / "celery"), "-A", "dropturk", "worker"),
                *("-Q", "ocr,training,default", "--concurrency", str(self.worker_concurrency)),
                *("-l", "INFO", "--beat", "--schedule", str(self.data_dir / "celerybeat")),
            ],
        )
        self.wait_for(self._web_answers, timeout=timeout, what="the web server")
        self.wait_for(lambda: " ready." in self.log("worker"), timeout=timeout, what="the worker")

    def stop(self) -> None:
        """Ends both processes (and their children) by their process group."""
        for process in self._processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        for process in self._processes.values():
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.data_dir / f"{name}.log").open("wb")
        self._processes[name] = subprocess.Popen(  # noqa: S603  our own interpreter and tools
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )

    def _web_answers(self) -> bool:
        web = self._processes["web"]
        if web.poll() is not None:
            raise RuntimeError(f"the web server exited:\n{self.log('web')[-3000:]}")
        try:
            requests.get(self.url("/healthz"), timeout=2)
        except requests.ConnectionError:
            return False
        return True

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for(
        self, predicate: Callable[[], object], *, timeout: float = 60.0, what: str = "it"
    ) -> object:
        """Polls ``predicate`` until it returns something true (returned), at most
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            worker = self._processes.get("worker")
            if worker is not None and worker.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log('worker')[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"waited {timeout:.0f} s for {what}; worker log:\n"
                    f"{self.log('worker')[-3000:]}\nweb log:\n{self.log('web')[-2000:]}"
                )
            time.sleep(0.2)

    # --- Its database and tools -----------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``manage.py ARGS`` against the server's database and folders."""
        done = subprocess.run(  # noqa: S603  our own interpreter and arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done

    def django(self, code: str) -> str:
        """Runs ``code`` with Django set up against the server's database; its stdout."""
        script = "import django\ndjango.setup()\n" + code
        done = subprocess.run(  # noqa: S603  our own interpreter and arguments
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"script failed:\n{done.stderr[-4000:]}")
        return done.stdout

    def create_person(self, username: str, *, roles: list[str]) -> Person:
        """An active account with these role names (``annotations.roles``), a password and
        a TOTP authenticator stored as allauth's set-up page stores one."""
        out = self.django(
            _CREATE_PERSON.format(username=json.dumps(username), roles=json.dumps(roles))
        )
        password, secret = out.split()[-2:]
        return Person(username=username, password=password, totp_secret=secret)

    def service_token(self, name: str, *, scopes: tuple[str, ...] = ("ingest",)) -> str:
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        return self.manage("create_service_token", name, *args).stdout.strip()

    def session(self, username: str) -> requests.Session:
        """A client signed in as ``username`` (password + TOTP, just now), with the CSRF
        cookie and header every unsafe request needs."""
        key = self.django(_SESSION_FOR.format(username=json.dumps(username))).split()[-1]
        return self._client(sessionid=key)

    def _client(self, **cookies: str) -> requests.Session:
        """A client with the CSRF cookie and header set (``cookies``: more cookies)."""
        client = requests.Session()
        client.cookies.set("csrftoken", CSRF_TOKEN, domain="127.0.0.1", path="/")
        for name, value in cookies.items():
            client.cookies.set(name, value, domain="127.0.0.1", path="/")
        client.headers.update({"X-CSRFToken": CSRF_TOKEN, "Referer": self.base_url + "/"})
        return client

    def sign_in(self, person: Person) -> requests.Session:
        """Signs ``person`` in through allauth's forms: password, then the TOTP code."""
        client = requests.Session()  # the server sets the CSRF cookie, as for a browser
        client.headers["Referer"] = self.base_url + "/"
        answer = _post_form(
            client,
            self.url("/accounts/login/"),
            {"login": person.username, "password": person.password},
        )
        if "/2fa/authenticate" not in answer.url:
            raise AssertionError(f"no MFA step after the password: {answer.url}")
        answer = _post_form(client, answer.url, {"code": totp_code(person.totp_secret)})
        if answer.status_code != 200 or "/accounts/" in answer.url:
            raise AssertionError(f"sign-in did not finish: {answer.status_code} {answer.url}")
        # Signing in rotates the CSRF secret: API calls send the new one.
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        return client


def reauthenticate(server: EmbeddedServer, client: requests.Session, person: Person) -> None:
    """Confirms ``person``'s password again (allauth's re-authentication form), as the
    exports download and a model's promotion ask."""
    answer = _post_form(
        client, server.url("/accounts/reauthenticate/"), {"password": person.password}
    )
    if answer.status_code != 200 or "/reauthenticate/" in answer.url:
        raise AssertionError(f"re-authentication failed: {answer.status_code} {answer.url}")


def _post_form(client: requests.Session, url: str, fields: dict[str, str]) -> requests.Response:
    """Posts a form as a browser does: the CSRF token of the page it is on, then follows
    the redirects."""
    page = client.get(url, timeout=30)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    token = match[1] if match else client.cookies.get("csrftoken")
    return client.post(url, data={**fields, "csrfmiddlewaretoken": token}, timeout=30)


_CREATE_PERSON = r"""
import base64, secrets
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
user, _ = get_user_model().objects.get_or_create(
    username={username}, defaults={{"email": {username} + "@example.com"}}
)
password = secrets.token_urlsafe(12)
user.set_password(password)
user.is_active = True
user.save()
user.groups.set(Group.objects.filter(name__in={roles}))
secret = base64.b32encode(secrets.token_bytes(20)).decode()
Authenticator.objects.filter(user=user).delete()
Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP,
                             data={{"secret": encrypt(secret)}})
print(password, secret)
"""

# As django.contrib.auth.login stores a session, marked as after password + TOTP.
_SESSION_FOR = r"""
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from accounts.sessions import fill_signed_in_session
user = get_user_model().objects.get(username={username})
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "accounts.backends.CachedModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
fill_signed_in_session(store, user=user)
store.create()
print(store.session_key)
"""
