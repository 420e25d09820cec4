"""Settings of the HTTP API, from `CERTREG_*` environment variables or a `.env` file."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CERTREG_", env_file=".env", extra="ignore", frozen=True
    )

    #: where `certreg serve` listens (loopback by default)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: uvicorn worker processes for `certreg serve`
    workers: int = Field(default=1, ge=1, le=64)
    #: largest request body accepted, in bytes (413 beyond)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: sustained requests per second allowed per API key, and the burst above it (429 beyond)
    rate_limit_per_s: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    #: run the anchoring worker inside the API process (one per database holds the lock)
    run_worker: bool = False
    #: the public base URL printed in QR codes and links (CERTREG_PUBLIC_BASE_URL)
    public_base_url: str = "http://127.0.0.1:8000"
    #: a block explorer's transaction URL prefix, e.g. https://explorer.example/tx/ (optional)
    block_explorer_tx_url: str | None = None
