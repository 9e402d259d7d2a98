"""Run the whole portal in one terminal: web server, Celery worker and Celery beat.

On the embedded defaults (SQLite, kombu's filesystem broker) unless DATABASE_URL / REDIS_URL
say otherwise. Ctrl-C (or SIGTERM) stops all three and waits for them; when one of them dies
on its own, the others are stopped and the command exits non-zero.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.management.commands.demo_seed import DEMO_SCIM_TOKEN_FILE, sign_ins_table

GRACE_SECONDS = 15


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def scim_lines(url: str) -> str:
    """The SCIM base URL and the demo provisioning client's token, with a curl to try."""
    if not DEMO_SCIM_TOKEN_FILE.exists():
        return ""
    token = DEMO_SCIM_TOKEN_FILE.read_text().strip()
    body = json.dumps({"schemas": [USER_SCHEMA], "userName": "new.person@access.example"})
    return (f"SCIM provisioning: base URL {url}/scim/v2/ , bearer token {token}\n"
            f"  curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json'"
            f" -d '{body}' {url}/scim/v2/Users\n")


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat together; Ctrl-C stops them."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000,
                            help="port of the web server on 127.0.0.1 (default 8000)")

    def handle(self, *args, port: int, **options):
        if port_answers(port):
            raise CommandError(f"Something already answers on 127.0.0.1:{port}; "
                               "stop it or choose another port with --port.")
        url = f"http://127.0.0.1:{port}"
        env = os.environ.copy()
        env.setdefault("DEBUG", "1")  # runserver serves the static files
        env.setdefault("SITE_URL", url)  # links in emails point at this server
        env["PYTHONUNBUFFERED"] = "1"
        celery = [sys.executable, "-m", "celery", "-A", "portal"]
        commands = {
            "web": [sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver",
                    f"127.0.0.1:{port}"],
            # One process with the solo pool: SQLite takes one writer at a time anyway.
            "worker": [*celery, "worker", "--pool=solo", "-l", "info"],
            "beat": [*celery, "beat", "-l", "info",
                     "-s", str(settings.VAR_DIR / "celerybeat-schedule")],
        }

        received: list[int] = []

        def on_signal(signum, frame):
            received.append(signum)

        previous = {sig: signal.signal(sig, on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen] = {}
        died: tuple[str, int] | None = None
        try:
            for name, command in commands.items():
                # Each child leads its own process group: the terminal's Ctrl-C reaches only
                # this command, which then stops each child (and runserver's reloader) once.
                children[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env,
                                                  start_new_session=True)
            self.stdout.write(f"Starting the portal on {url} (web, worker and beat)...")
            self.stdout.flush()
            announced = False
            while not received:
                died = next(((name, child.returncode) for name, child in children.items()
                             if child.poll() is not None), None)
                if died:
                    break
                if not announced and port_answers(port):
                    announced = True
                    self.announce(url)
                time.sleep(0.5)
        finally:
            self.stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        if died:
            name, code = died
            raise CommandError(f"The {name} process exited with code {code}; "
                               "the others were stopped.")
        self.stdout.write("Stopped web, worker and beat.")

    def announce(self, url: str):
        mail = ""
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            mail = f"\nEmails are written to {settings.EMAIL_FILE_PATH}."
        self.stdout.write(self.style.SUCCESS(f"\nThe portal is running: {url}/"))
        self.stdout.write(f"Sign in at {url}/accounts/login/ as one of:\n"
                          f"{sign_ins_table()}\n"
                          f"Django admin: {url}/admin/{mail}\n"
                          f"{scim_lines(url)}"
                          "Press Ctrl-C to stop web, worker and beat.\n")
        self.stdout.flush()

    def stop(self, children: dict[str, subprocess.Popen]):
        if not children:
            return
        self.stdout.write("Stopping web, worker and beat...")
        self.stdout.flush()
        for child in children.values():
            self.signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} process did not stop in time: killing it.")
                self.signal_group(child, signal.SIGKILL)
                child.wait()
        # runserver's reloader child, or a worker's child, may outlive its group leader.
        for child in children.values():
            self.signal_group(child, signal.SIGKILL)

    @staticmethod
    def signal_group(child: subprocess.Popen, sig: int):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)
