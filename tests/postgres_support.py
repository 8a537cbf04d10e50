"""A PostgreSQL server of a test's own (initdb + pg_ctl in a temp dir, on a free port): it may
be restarted, paused and killed; the shared server on 5432 never is."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import unavailable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """`start()`, then `url`; `restart()` (fast shutdown: sessions are terminated, as in a
    real restart), `shut_down()`/`start_again()` (down for as long as the test wants),
    `pause()`/`resume()` (SIGSTOP: the network looks lost, sockets stay open), `stop()`
    removes everything."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._dir: Path | None = None

    def _run(self, *args: str) -> None:
        # initdb and the server refuse to run as root: run them as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    @property
    def data(self) -> Path:
        assert self._dir is not None
        return self._dir / "data"

    def start(self) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            unavailable("initdb/pg_ctl are not installed")
        self._dir = Path(tempfile.mkdtemp(prefix="private-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl("start")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=40"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-o", options,
            "-l", str(self.data / "server.log"), action, *extra,
        )  # fmt: skip

    def restart(self, mode: str = "fast") -> None:
        """`fast` terminates sessions as a planned restart does; `immediate` is a crash."""
        self._pg_ctl("restart", "-m", mode)

    def shut_down(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions terminated; `immediate`: a crash) and keep its
        data, until `start_again()`."""
        self._pg_ctl("stop", "-m", mode)

    def start_again(self) -> None:
        self._pg_ctl("start")

    def _processes(self) -> list[int]:
        """The postmaster and every backend it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(stat.parent.name))
        return pids

    def pause(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._dir is None:
            return
        try:
            self.resume()
            self._pg_ctl("stop", "-m", "immediate")
        except (OSError, subprocess.CalledProcessError):
            pass
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
