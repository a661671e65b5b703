"""The local engine: each release runs as warm containers on the host network behind the
router, which is the stable endpoint. Used by `modelstack up --target local` and the same
rollout code as the cloud targets."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelstack.deploy.release import Release
from modelstack.errors import InfrastructureError, UsageError
from modelstack.image.containers import free_port
from modelstack.polling import poll_until
from modelstack.providers.aws_lambda.invoke_client import LambdaInvokeClient
from modelstack.providers.local.routes import Revision, Routes, read_routes, write_routes
from modelstack.providers.local.target import LocalTarget, function_name
from modelstack.smoke.clients import HttpClient, InferenceClient

if TYPE_CHECKING:
    import docker

    from modelstack.providers.local.events_wiring import LocalEvents

__all__ = ["LocalEngine"]

TARGET_LABEL = "dev.modelstack.target"
VERSION_LABEL = "dev.modelstack.version"
_ROUTER_MODULES = (b"modelstack.providers.local.router", b"modelstack.deploy.local.router")
"""The router's module, and where releases before the provider packages ran it from."""
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalEngine:
    """Revisions as containers, a router process as the endpoint, state under `state_dir`."""

    def __init__(
        self,
        client: docker.DockerClient,
        model_name: str,
        target: LocalTarget,
        state_dir: Path,
        *,
        ready_timeout_s: float = 120.0,
        drain_timeout_s: float = 30.0,
        events: LocalEvents | None = None,
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.target = target
        self.state_dir = state_dir
        self.routes_path = state_dir / "routes.json"
        self.pid_path = state_dir / "router.pid"
        self.ready_timeout_s = ready_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.events = events
        """The manifest's event sources, wired on deploy and unwired on destroy."""
        self.function_name = function_name(model_name, target.name)
        """The name clients use (the Lambda flavour's FunctionName)."""
        where = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
        self.label = f"{self.function_name}.{where}"
        """Marks this deployment's containers: two checkouts of one model never share them."""

    # --- Engine protocol ------------------------------------------------------------------

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.target.port}"

    def ensure_endpoint(self) -> bool:
        """Restart a lost router and stopped containers; False when a serving revision has
        no containers left (it must be deployed again)."""
        if not self.routes_path.exists():
            return False
        self._ensure_router()
        for revision in self._routes().revisions:
            if revision.weight == 0:
                continue
            containers = self._containers(revision.version)
            if not containers or not self._events_current(containers):
                return False
            for container in containers:
                if container.status != "running":
                    container.start()
            for backend in revision.backends:
                self._wait_http_ready(revision.version, backend)
        if self.events is not None:
            self.events.start()
        return True

    def adopt(self) -> Release | None:
        return None  # the local state lives beside the router it describes

    def prepare_registry(self) -> None:
        pass  # images run where they were built, or go to a registry that already exists

    def deploy_candidate(self, release: Release, stable: Release | None) -> Release:
        if self.events is not None:
            self.events.provision()
        self._ensure_router()
        self._remove_containers(release.version)
        routes = self._routes()
        revision = Revision(release.version, 0)
        if self.target.flavour == "lambda":
            revision = Revision(release.version, 0, runtime_api_port=free_port())
            self._write(routes, [*_without(routes, release.version), revision])
        ports = [free_port() for _ in range(self.target.provisioned_concurrency)]
        for index, port in enumerate(ports):
            self._start_container(release, index, port, revision.runtime_api_port)
        if self.target.flavour == "http":
            backends = tuple(f"127.0.0.1:{port}" for port in ports)
            for backend in backends:
                self._wait_http_ready(release.version, backend)
            revision = Revision(release.version, 0, backends=backends)
            self._write(routes, [*_without(routes, release.version), revision])
        else:
            self._wait_lambda_ready(release)
        return release

    def candidate_client(self, release: Release) -> InferenceClient:
        revision = self._routes().revision(release.version)
        if revision is None:
            raise InfrastructureError(f"version {release.version} is not deployed")
        if self.target.flavour == "lambda":
            return LambdaInvokeClient(
                self.function_name,
                release.version,
                "us-east-1",
                endpoint_url=self.endpoint(),
                local=True,
            )
        return HttpClient(f"http://{revision.backends[0]}", self.model_name)

    def set_traffic(self, stable: Release | None, candidate: Release, percent: int) -> None:
        routes = self._routes()
        weights = {candidate.version: percent}
        if stable is not None:
            weights[stable.version] = 100 - percent
        revisions = [
            Revision(r.version, weights.get(r.version, 0), r.backends, r.runtime_api_port)
            for r in routes.revisions
        ]
        self._write(routes, revisions)

    def error_rate(self, release: Release) -> float | None:
        counters = self._status().get("revisions", {}).get(release.version)
        if not counters or not counters["requests"]:
            return None
        return float(counters["errors"]) / float(counters["requests"])

    def promote(self, release: Release, retired: Release | None) -> None:
        """All traffic to `release`; every other revision (and any orphan) is retired."""
        self.set_traffic(None, release, 100)
        for revision in self._routes().revisions:
            if revision.version != release.version:
                self._retire(revision.version)
        for container in self._containers(None):
            if container.labels.get(VERSION_LABEL) != release.version:
                self._remove_containers(container.labels.get(VERSION_LABEL))
        if self.events is not None:
            self.events.start()

    def abandon(self, stable: Release | None, failed: Release) -> None:
        routes = self._routes()
        if stable is not None:
            if routes.revision(stable.version) is None:
                raise InfrastructureError(
                    f"cannot return traffic to version {stable.version}: it no longer runs; "
                    f"version {failed.version} is left in place. Run `modelstack rollback` "
                    "to restore an earlier release."
                )
            self.set_traffic(None, stable, 100)
        self._retire(failed.version)

    def destroy(self) -> None:
        from modelstack.providers.local import events_process

        for note in self.events.stop() if self.events is not None else []:
            print(note, file=sys.stderr)
        events_process.stop(self.state_dir)  # one left by a manifest that had events then
        self._stop_router()
        self._remove_containers(None)
        for path in (self.routes_path, self.pid_path):
            path.unlink(missing_ok=True)

    # --- routing table and router process -------------------------------------------------

    def _routes(self) -> Routes:
        return read_routes(self.routes_path) or Routes(self.target.flavour, self.function_name)

    def _write(self, routes: Routes, revisions: list[Revision]) -> None:
        fresh = Routes(
            routes.flavour, routes.function_name, routes.generation + 1, tuple(revisions)
        )
        write_routes(self.routes_path, fresh)
        self._wait_generation(fresh.generation)

    def _wait_generation(self, generation: int) -> None:
        if poll_until(lambda: self._status().get("generation", -1) >= generation, 10, 0.02):
            return
        problem = self._status().get("error") or f"see {self.state_dir / 'router.log'}"
        raise InfrastructureError(
            f"the local router on port {self.target.port} did not apply the new routes: {problem}"
        )

    def _status(self) -> dict[str, Any]:
        try:
            with _OPENER.open(f"{self.endpoint()}/_modelstack/status", timeout=5) as response:
                status: dict[str, Any] = json.loads(response.read())
                return status
        except OSError:
            return {}

    def _router(self) -> tuple[int, int] | None:
        """(pid, port) of this target's router, from router.pid, if that process really is
        the router of this routing table (a reused pid belongs to someone else)."""
        try:
            pid = int(self.pid_path.read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            port = int(command[command.index(b"--port") + 1])
        except (OSError, ValueError, IndexError):
            return None
        routes = str(self.routes_path).encode()
        is_router = any(m in command for m in _ROUTER_MODULES) and routes in command
        return (pid, port) if is_router else None

    def _ensure_router(self) -> None:
        router = self._router()
        if router is not None:
            _, port = router
            if port != self.target.port:
                raise UsageError(
                    f"the local target '{self.target.name}' runs on port {port}, but the "
                    f"manifest now says {self.target.port}; run `modelstack destroy` first"
                )
            if self._status():
                self._check_flavour()
                return
        self._check_flavour()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.routes_path.exists():
            write_routes(self.routes_path, Routes(self.target.flavour, self.function_name))
        with (self.state_dir / "router.log").open("ab") as log:
            launcher = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "modelstack.providers.local.router",
                    "--routes",
                    str(self.routes_path),
                    "--port",
                    str(self.target.port),
                    "--pid-file",
                    str(self.pid_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=30,
                check=False,
            )
        listening = launcher.returncode == 0 and poll_until(self._status, 10, 0.05)
        if not listening:
            raise InfrastructureError(
                f"the local router could not listen on 127.0.0.1:{self.target.port} (is "
                f"the port taken?); see {self.state_dir / 'router.log'}"
            )

    def _check_flavour(self) -> None:
        routes = read_routes(self.routes_path)
        if routes is not None and routes.revisions and routes.flavour != self.target.flavour:
            raise UsageError(
                f"the local target '{self.target.name}' runs the {routes.flavour} flavour, "
                f"but the manifest now says {self.target.flavour}; run `modelstack destroy` first"
            )

    def _stop_router(self) -> None:
        router = self._router()
        if router is None:
            return  # not running (or the pid now belongs to someone else: leave it alone)
        pid, _ = router
        os.kill(pid, signal.SIGTERM)
        if not poll_until(lambda: self._router() != router, 10, 0.05):
            raise InfrastructureError(
                f"the local router (pid {pid}) did not stop; stop it with `kill {pid}`"
            )

    # --- containers -------------------------------------------------------------------------

    def _start_container(
        self, release: Release, index: int, port: int, runtime_api_port: int | None
    ) -> None:
        import docker

        events = self.events.container_environment() if self.events is not None else {}
        env = {**events, **self.target.environment, "HOST": "127.0.0.1", "PORT": str(port)}
        if runtime_api_port is not None:
            env.update(
                {
                    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api_port}",
                    "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                    "AWS_LAMBDA_FUNCTION_VERSION": release.version,
                    "AWS_REGION": "us-east-1",
                }
            )
        try:
            self.client.containers.run(
                release.image,
                detach=True,
                network_mode="host",
                environment=env,
                name=f"modelstack-{self.label}-v{release.version}-{index}".replace(".", "-"),
                labels={TARGET_LABEL: self.label, VERSION_LABEL: release.version},
                restart_policy={"Name": "unless-stopped"},
            )
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"cannot start {release.image}: {exc.explanation}") from None

    def _events_current(self, containers: list[Any]) -> bool:
        """Whether the containers run with the manifest's current events environment (a
        changed `events:` section redeploys, as a changed image would)."""
        wanted = self.events.container_environment() if self.events is not None else {}
        for container in containers:
            env = dict(e.split("=", 1) for e in container.attrs["Config"].get("Env") or [])
            if any(env.get(name) != value for name, value in wanted.items()):
                return False
        return True

    def _containers(self, version: str | None) -> list[Any]:
        labels = [f"{TARGET_LABEL}={self.label}"]
        if version is not None:
            labels.append(f"{VERSION_LABEL}={version}")
        return list(self.client.containers.list(all=True, filters={"label": labels}))

    def _remove_containers(self, version: str | None) -> None:
        import docker

        for container in self._containers(version):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    def _retire(self, version: str) -> None:
        """Drain `version` (no new requests, wait for those in flight), then remove it."""
        routes = self._routes()
        if routes.revision(version) is not None:
            poll_until(lambda: not self._in_flight(version), self.drain_timeout_s, 0.05)
            self._write(routes, _without(routes, version))
        self._remove_containers(version)

    def _in_flight(self, version: str) -> bool:
        counters = self._status().get("revisions", {}).get(version, {})
        return bool(counters.get("in_flight"))

    def _wait_http_ready(self, version: str, backend: str) -> None:
        def ready() -> bool:
            try:
                with _OPENER.open(f"http://{backend}/v2/health/ready", timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            self._check_running(version)
            return False

        if not poll_until(ready, self.ready_timeout_s, 0.1):
            raise InfrastructureError(f"version {version} was not ready in time")

    def _wait_lambda_ready(self, release: Release) -> None:
        def polling() -> bool:
            self._check_running(release.version)
            return bool(self._status().get("pollers", {}).get(release.version))

        if not poll_until(polling, self.ready_timeout_s, 0.1):
            raise InfrastructureError(f"version {release.version} did not start polling in time")

    def _check_running(self, version: str) -> None:
        for container in self._containers(version):
            container.reload()
            if container.status in ("exited", "dead") or container.attrs.get("RestartCount", 0):
                tail = container.logs(tail=30).decode("utf-8", errors="replace")
                raise InfrastructureError(
                    f"version {version} exited while starting "
                    f"({container.name}); the last lines of its log:\n{tail}"
                )


def _without(routes: Routes, version: str) -> list[Revision]:
    return [r for r in routes.revisions if r.version != version]
