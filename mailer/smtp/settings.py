"""Where and how to reach the relay: SmtpSettings, read from SMTP_* keys and checked once."""

from __future__ import annotations

from dataclasses import dataclass, field

SECURITY_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the relay; the password stays out of reprs and logs."""

    host: str = "127.0.0.1"
    port: int = 8025
    security: str = "none"  # none | starttls | ssl
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    per_domain_limit: int = 2  # sends in flight per recipient domain, per sending process
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, got {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP_PORT must be between 1 and 65535, got {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP_TIMEOUT must be a positive number, got {self.timeout}")
        if self.per_domain_limit < 1:
            limit = self.per_domain_limit
            raise ValueError(f"SMTP_PER_DOMAIN_LIMIT must be at least 1, got {limit}")
        if not self.host:
            raise ValueError("SMTP_HOST must not be empty")
