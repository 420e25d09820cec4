"""The FastAPI application factory. No module-level engine: everything hangs off the `Stack`
built (or passed in) when the app starts."""

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import Depends, FastAPI, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from anchoring.metrics import RegistryCollector
from anchoring.pyecc import contain_py_ecc
from api.deps import limit_clients
from api.headers import SecurityHeadersMiddleware
from api.limits import BodyLimitMiddleware, Limits
from api.problems import install_problem_handlers
from api.routes import accounts, authority, certificates, drafts, imports, keys, transparency
from api.settings import ApiSettings
from api.stack import Stack
from api.web import install as install_web
from registry.logs import log_event

__all__ = ["create_app"]

log = logging.getLogger("certreg.api")

DOCS_ASSETS = "/docs/assets"
DESCRIPTION = """
A registry of conformity, calibration, verification, test and inspection certificates whose
history is an append-only Merkle log anchored on an EVM chain.

- **Issuers** (certification bodies, labs) issue, suspend, reinstate, withdraw and supersede
  their certificates with `Authorization: Bearer <API key>`.
- **Verifiers** fetch a certificate's proof bundle and get a verdict with every check named.
- **Auditors** read the anchored checkpoints, consistency proofs and the log itself.

Errors are RFC 9457 problem details with a stable `type` (`urn:certreg:problem:…`).
"""


def create_app(stack: Stack | None = None, settings: ApiSettings | None = None) -> FastAPI:
    """The API over `stack` (default: built from the environment when the app starts)."""
    contain_py_ecc()  # before the first request body is parsed (anchoring/pyecc.py)
    api_settings = settings or ApiSettings()
    metrics_registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run in threads that share one GIL: many at once only lengthen the tail
        # (docs/benchmarks.md, "HTTP API"); the rest wait their turn in the event loop, in order.
        to_thread.current_default_thread_limiter().total_tokens = api_settings.request_threads
        own = stack is None
        current = stack if stack is not None else Stack()
        if own:
            try:
                current.check_settings(
                    api_settings, worker=api_settings.run_worker
                )  # a server process's own start-up check
            except Exception:
                current.close()
                raise
        app.state.stack = current
        metrics_registry.register(
            RegistryCollector(
                current.storage.reading,
                worker=lambda: current.worker if api_settings.run_worker else None,
                clock=current.clock.now,
            )
        )
        stop = threading.Event()
        worker_thread = None
        if api_settings.run_worker:
            worker = app.state.stack.worker
            worker_thread = threading.Thread(
                target=_run_worker, args=(worker, stop), name="anchoring-worker", daemon=True
            )
            worker_thread.start()
        if own:
            _freeze_startup_objects(current)
        current.import_runner.resume()  # imports confirmed before a restart carry on
        try:
            yield
        finally:
            stop.set()
            if worker_thread is not None:
                worker_thread.join(timeout=30)
            if own:
                app.state.stack.close()

    app = FastAPI(
        title="certreg",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the installed Swagger UI
        redoc_url=None,
        # Every route, pages included: anonymous traffic is limited by client address.
        dependencies=[Depends(limit_clients)],
    )
    app.state.settings = api_settings
    app.state.limits = Limits(
        api_settings, monotonic=stack.clock.monotonic if stack is not None else time.monotonic
    )
    install_problem_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=api_settings.max_body_bytes,
        larger={
            imports.IMPORT_PATH: api_settings.max_import_bytes,
            "/portal/imports": api_settings.max_import_bytes,
        },
    )
    # Bundles are mostly hex hashes: gzip halves them on the wire for clients that ask.
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: on every answer, errors too
    _install_routes(app)

    _install_docs(app)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _install_routes(app: FastAPI) -> None:
    app.include_router(keys.router)  # before /v1/certificates/{id}: its statements route
    app.include_router(certificates.router)
    app.include_router(drafts.router)
    app.include_router(imports.router)
    app.include_router(accounts.router)
    app.include_router(authority.router)
    app.include_router(transparency.router)
    install_web(app)  # the verification pages, QR codes and printable certificates


def _install_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the `swagger-ui-bundle` package, not a CDN (FastAPI's default),
    so that the page works offline and runs no third-party code fetched at view time."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=Path(str(swagger_ui_path))), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


def _freeze_startup_objects(stack: Stack) -> None:
    """Move what start-up built out of the collector's sight, in a server process.

    A full collection walks every tracked object, and the caches a server fills as it serves
    (log tiles, map nodes: up to `CERTREG_PROOF_CACHE_MB`) made each walk stop every request
    of the process for over 100 ms, once every few seconds under load — the 99th percentile
    (docs/benchmarks.md, "Tail latency"). The caches hold only objects the collector stops
    tracking (bytes, tuples of bytes); frozen, their containers are never walked either. Built
    here, before the freeze, so that the containers are among the frozen objects. Objects
    frozen here that later die in a reference cycle are never reclaimed: start-up objects live
    as long as the process, so little is lost, and only in a server process, never in a test's.
    """
    stack.assembler  # noqa: B018 (builds the proof caches' containers)
    gc.collect()
    gc.freeze()


def _run_worker(worker: object, stop: threading.Event) -> None:
    from anchoring.worker import AnchoringWorker  # noqa: PLC0415

    assert isinstance(worker, AnchoringWorker)
    while not stop.is_set():
        try:
            worker.run_standby(stop)  # another replica anchors: take over if it stops
        except Exception:
            log.exception("anchoring worker stopped; restarting in 5 s")
            stop.wait(5)
    log_event(log, "worker.thread_stopped")
