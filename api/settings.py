"""Settings of the HTTP API, from `CERTREG_*` environment variables or a `.env` file."""

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    # hide_input_in_errors: settings errors never quote what they were given (a .env file also
    # holds secrets, and a mistyped line may carry one).
    model_config = SettingsConfigDict(
        env_prefix="CERTREG_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    #: where `certreg serve` listens (loopback by default)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: uvicorn worker processes for `certreg serve`
    workers: int = Field(default=1, ge=1, le=64)
    #: requests one process runs at once, in threads (more wait in the event loop, in order);
    #: threads add no CPU under the GIL, only overlap waits (database, chain node), and past
    #: that they lengthen the tail: 8 measured best (docs/benchmarks.md, "Tail latency")
    request_threads: int = Field(default=8, ge=1, le=1000)
    #: largest request body accepted, in bytes (413 beyond)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: largest spreadsheet upload (`POST /v1/imports`), in bytes: 20,000 rows of a kind with
    #: results fit in some 10 MB of CSV
    max_import_bytes: int = Field(default=32 * 1_048_576, ge=1024)
    #: sustained requests per second allowed per authenticated issuer, and the burst above it
    #: (429 beyond)
    rate_limit_per_s: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    #: the same per client address, for requests that are not authenticated (every public page
    #: and route) and for failed authentications (CERTREG_PUBLIC_RATE_LIMIT_PER_S, _BURST)
    public_rate_limit_per_s: float = Field(default=20.0, gt=0)
    public_rate_limit_burst: int = Field(default=100, ge=1)
    #: chain reads that `POST /v1/verify` may make per second for one client address, and the
    #: burst; cached facts cost nothing, so only bundles naming what nobody asked before count
    verify_chain_reads_per_s: float = Field(default=2.0, gt=0)
    verify_chain_reads_burst: int = Field(default=40, ge=1)
    #: reverse proxies (addresses or CIDR blocks, JSON list) whose X-Forwarded-For is believed
    #: when they are the TCP peer; empty: the peer is the client (CERTREG_TRUSTED_PROXIES)
    trusted_proxies: list[str] = Field(default_factory=list)
    #: run the anchoring worker inside the API process (one per database holds the lock)
    run_worker: bool = False
    #: the public base URL printed in QR codes and links (CERTREG_PUBLIC_BASE_URL); the default is
    #: for `certreg dev` only: elsewhere leaving it unset is a start-up error (api/stack.py)
    public_base_url: str = "http://127.0.0.1:8000"
    #: a block explorer's transaction URL prefix, e.g. https://explorer.example/tx/ (optional)
    block_explorer_tx_url: str | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"got {value!r}, want an IP address or CIDR block such as 10.0.0.0/8"
                ) from None
        return values
