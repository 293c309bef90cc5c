"""Typed settings from the environment and `.env`, checked once at start.

Every setting is documented in `.env.example`. `load_settings()` collects every
problem it finds and raises one `SettingsError` that says, for each, which
variable is wrong and what to set it to, so an operator fixes them all at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

from bot.live_settings import (
    DEFAULT_GREETING,
    DEFAULT_SYSTEM_INSTRUCTION,
    Backend,
    LiveSettings,
    Sensitivity,
    VadSettings,
    feature_warnings,
    load_live,
)
from tools.env import EnvReader

__all__ = [
    "DEFAULT_GREETING",
    "DEFAULT_SYSTEM_INSTRUCTION",
    "Backend",
    "LiveSettings",
    "Sensitivity",
    "Settings",
    "SettingsError",
    "VadSettings",
    "feature_warnings",
    "load_settings",
    "read_env",
]


class SettingsError(ValueError):
    """One or more settings are wrong; the message lists each with its fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"livebot cannot start: {len(problems)} setting(s) to fix "
            f"(in the environment or .env; see .env.example):\n{lines}"
        )


@dataclass(frozen=True)
class Settings:
    """The whole bot's settings."""

    live: LiveSettings
    host: str = "127.0.0.1"
    port: int = 7860
    ops_port: int | None = None
    public_url: str | None = None
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    tools: tuple[str, ...] = ("calendar", "lights", "clock")
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    google_search: bool = False
    production: bool = False
    secret: str | None = field(default=None, repr=False)
    join_rate_per_minute: float = 20.0
    join_burst: int = 10
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = field(default=None, repr=False)
    turn_ttl_seconds: int = 600
    ice_transport_policy: str = "all"
    # With relay-only ICE, the only addresses remote candidates may have (empty: those of the TURN_URLS hosts).
    turn_relay_addresses: tuple[str, ...] = ()
    max_candidates_per_call: int = 100
    candidate_patches_per_minute: float = 60.0
    max_calls: int = 20
    caller_gone_seconds: float = 8.0
    rejoin_seconds: float = 120.0  # a caller who left may come back this long (bot/rejoin.py)
    shutdown_grace_seconds: float = 30.0
    trusted_proxies: str = "127.0.0.1"
    # Shared state across instances (bot/shared): unset = this host's files and memory.
    redis_url: str | None = field(default=None, repr=False)
    instance_id: str = ""  # "" = hostname:port
    instance_address: str = ""  # "" = hostname:port
    shared_lease_seconds: float = 30.0
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def link_secret(self) -> bytes:
        """The secret that signs room links: LIVEBOT_SECRET, or (development) one kept
        in the data directory so links survive restarts."""
        if self.secret:
            return self.secret.encode()
        path = self.data_dir / "secret"
        if not path.is_file():
            # Two processes may start at once on one data directory: write the secret
            # whole to a temporary file, then link it into place; only the first link
            # wins, so both use the same secret and neither reads a half-written one.
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".secret.", dir=path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(32))
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        return path.read_text().strip().encode()

    @property
    def base_url(self) -> str:
        """The URL a caller opens (the public one when set, else the local one)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.port}"


def read_env(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """The environment, after loading `.env` into it (real environment variables win).

    Loading into `os.environ` lets the Google SDK see its own variables
    (`GOOGLE_GEMINI_BASE_URL`, `SSL_CERT_FILE`) when they are set in `.env`.
    """
    if env_file is not None and env_file.is_file():
        load_dotenv(env_file, override=False)
    return dict(os.environ)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build and check the settings; raise `SettingsError` listing every problem."""
    r = EnvReader(read_env() if env is None else env)

    live = load_live(r)

    port = r.int("PORT", 7860, lo=1, hi=65535) or 7860
    log_level = (r.str("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
        r.problems.append(f"LOG_LEVEL={log_level!r}: set it to DEBUG, INFO, WARNING or ERROR.")
        log_level = "INFO"

    ops_port = r.int("OPS_PORT", None, lo=1, hi=65535)
    if ops_port is not None and ops_port == port:
        r.problems.append(
            f"OPS_PORT={ops_port} is the same as PORT: the ops listener (metrics, API "
            "description) needs its own port, e.g. 9860."
        )
        ops_port = None

    mode = (r.str("LIVEBOT_MODE", "development") or "development").lower()
    if mode not in ("development", "production"):
        r.problems.append(f"LIVEBOT_MODE={mode!r}: set it to development or production.")
    production = mode == "production"
    secret = r.str("LIVEBOT_SECRET")
    if production and not secret:
        r.problems.append(
            "LIVEBOT_SECRET is missing: in production it signs room links. Set it to a long "
            "random string, e.g. the output of: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    elif secret and len(secret) < 32:
        r.problems.append("LIVEBOT_SECRET is too short: use at least 32 random characters.")

    turn_urls = tuple(u.strip() for u in (r.str("TURN_URLS") or "").split(",") if u.strip())
    turn_secret = r.str("TURN_SECRET")
    for url in turn_urls:
        if not url.startswith(("turn:", "turns:")):
            r.problems.append(f"TURN_URLS has {url!r}: each must start with turn: or turns:.")
    if turn_urls and not turn_secret:
        r.problems.append(
            "TURN_SECRET is missing: TURN_URLS needs coturn's static-auth-secret to give each "
            "call its own short-lived TURN credentials."
        )

    ice_policy = (r.str("ICE_TRANSPORT_POLICY", "all") or "all").lower()
    if ice_policy not in ("all", "relay"):
        r.problems.append(f"ICE_TRANSPORT_POLICY={ice_policy!r}: set it to all or relay.")
        ice_policy = "all"
    if ice_policy == "relay" and not turn_urls:
        r.problems.append(
            "ICE_TRANSPORT_POLICY=relay needs a TURN relay: set TURN_URLS and TURN_SECRET."
        )

    relay_addresses = tuple(
        a.strip() for a in (r.str("TURN_RELAY_ADDRESSES") or "").split(",") if a.strip()
    )
    for address in relay_addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            r.problems.append(
                f"TURN_RELAY_ADDRESSES has {address!r}: list the relay's IP addresses "
                "(e.g. 203.0.113.7,2001:db8::7), not names."
            )

    redis_url = r.str("REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        r.problems.append(
            f"REDIS_URL={redis_url!r}: use redis://HOST:6379/0 (rediss:// for TLS), or unset it."
        )
    settings = Settings(
        live=live,
        host=r.str("HOST", "127.0.0.1") or "127.0.0.1",
        port=port,
        ops_port=ops_port,
        public_url=r.str("PUBLIC_URL"),
        data_dir=Path(r.str("LIVEBOT_DATA_DIR", "data") or "data"),
        log_level=log_level,
        tools=_tool_names(r.env.get("TOOLS", "calendar,lights,clock")),
        timezone=_timezone(r),
        google_search=r.bool("LIVE_GOOGLE_SEARCH", False),
        production=production,
        secret=secret,
        join_rate_per_minute=r.float("JOIN_RATE_PER_MINUTE", 20.0, lo=1.0, hi=6000.0),
        join_burst=r.int("JOIN_BURST", 10, lo=1, hi=1000) or 10,
        stun_urls=tuple(u.strip() for u in (r.str("STUN_URLS") or "").split(",") if u.strip()),
        turn_urls=turn_urls,
        turn_secret=turn_secret,
        turn_ttl_seconds=r.int("TURN_TTL_SECONDS", 600, lo=60, hi=86400) or 600,
        ice_transport_policy=ice_policy,
        turn_relay_addresses=relay_addresses,
        max_candidates_per_call=r.int("MAX_CANDIDATES_PER_CALL", 100, lo=4, hi=1000) or 100,
        candidate_patches_per_minute=r.float(
            "CANDIDATE_PATCHES_PER_MINUTE", 60.0, lo=1.0, hi=60000.0
        ),
        max_calls=r.int("MAX_CALLS", 20, lo=1, hi=10000) or 20,
        caller_gone_seconds=r.float("CALLER_GONE_SECONDS", 8.0, lo=0.0, hi=3600.0),
        rejoin_seconds=r.float("REJOIN_SECONDS", 120.0, lo=0.0, hi=7200.0),
        shutdown_grace_seconds=r.float("SHUTDOWN_GRACE_SECONDS", 30.0, lo=0.0, hi=3600.0),
        trusted_proxies=r.str("TRUSTED_PROXIES", "127.0.0.1") or "127.0.0.1",
        redis_url=redis_url,
        instance_id=r.str("LIVEBOT_INSTANCE_ID") or f"{socket.gethostname()}:{port}",
        instance_address=_instance_address(r, port),
        shared_lease_seconds=r.float("SHARED_LEASE_SECONDS", 30.0, lo=1.0, hi=3600.0),
        env=dict(r.env),
    )
    if r.problems:
        raise SettingsError(r.problems)
    return settings


def _instance_address(r: EnvReader, port: int) -> str:
    """Where the other instances reach this one (host:port); an address alone (the pod IP
    Kubernetes gives) gets this instance's PORT."""
    address = r.str("LIVEBOT_INSTANCE_ADDRESS") or socket.gethostname()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        host, _, given = address.rpartition(":")
        if not host:
            return f"{address}:{port}"
        if not given.isdigit() or not 0 < int(given) < 65536:
            r.problems.append(
                f"LIVEBOT_INSTANCE_ADDRESS={address!r}: give host:port (or an address alone "
                "for this PORT), where the other instances reach this one."
            )
        return address
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _tool_names(raw: str | None) -> tuple[str, ...]:
    """`TOOLS=calendar,lights`; empty or `none` for no tools."""
    if raw is None or raw.strip().lower() in ("", "none"):
        return ()
    return tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))


def _timezone(r: EnvReader) -> ZoneInfo:
    """`TIMEZONE` (an IANA name), else the machine's zone, else UTC."""
    name = r.str("TIMEZONE") or _machine_timezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.append(
            f"TIMEZONE={name!r} is not a time zone: set it to an IANA name like Europe/Paris."
        )
        return ZoneInfo("UTC")


def _machine_timezone() -> str:
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            return target.split("/zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"
