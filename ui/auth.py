"""Login for the page: both a username and a password, and wrong tries slowed down.

Gradio calls `check(username, password)` for every login. After `free_tries` wrong
ones in a row, each further wrong try waits `delay` seconds, doubling up to
`max_delay`, before it is answered; a right one resets the count.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

from rag.config import UIConfig
from rag.errors import ConfigError


class Login:
    def __init__(self, username: str, password: str, *, free_tries: int = 3, delay: float = 1.0,
                 max_delay: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if not username or not password:
            raise ConfigError("ui.username and ui.password must both be set (or neither)")
        self._user, self._password = username.encode(), password.encode()
        self.free_tries, self.delay, self.max_delay = free_tries, delay, max_delay
        self._sleep = sleep
        self._wrong = 0
        self._lock = threading.Lock()

    def check(self, username: str, password: str) -> bool:
        ok = hmac.compare_digest(username.encode(), self._user) & hmac.compare_digest(
            password.encode(), self._password)
        with self._lock:
            self._wrong = 0 if ok else self._wrong + 1
            extra = self._wrong - self.free_tries
        if not ok and extra > 0:
            self._sleep(min(self.max_delay, self.delay * 2 ** (extra - 1)))
        return ok


def login_for(ui: UIConfig) -> Login | None:
    """The page's login, None when neither a username nor a password is set."""
    if not ui.username and not ui.password:
        return None
    missing = "ui.username" if not ui.username else "ui.password"
    if not ui.username or not ui.password:
        raise ConfigError(f"{missing} is not set: a login needs both ui.username and ui.password "
                          "(RAG_UI__USERNAME and RAG_UI__PASSWORD); set both, or neither for an open page")
    return Login(ui.username, ui.password)
