"""The page's login: both halves or none, and wrong tries slowed down."""

from __future__ import annotations

import pytest

from rag.config import UIConfig
from rag.errors import ConfigError
from ui.auth import Login, login_for


def test_a_half_set_login_is_an_error() -> None:
    assert login_for(UIConfig()) is None
    with pytest.raises(ConfigError, match="ui.username is not set"):
        login_for(UIConfig(password="secret"))
    with pytest.raises(ConfigError, match="ui.password is not set"):
        login_for(UIConfig(username="demo"))
    assert isinstance(login_for(UIConfig(username="demo", password="secret")), Login)


def test_wrong_tries_wait_longer_and_longer() -> None:
    waits: list[float] = []
    login = Login("demo", "secret", free_tries=2, delay=1.0, max_delay=4.0, sleep=waits.append)
    results = [login.check("demo", "nope") for _ in range(6)]
    assert results == [False] * 6 and waits == [1.0, 2.0, 4.0, 4.0]
    assert login.check("demo", "secret")  # a right one resets the count
    assert not login.check("demo", "nope") and waits == [1.0, 2.0, 4.0, 4.0]
    assert not login.check("other", "secret")


def test_serve_refuses_a_password_without_a_username(tmp_path) -> None:
    from rag.config import Config
    from ui.app import serve

    from .conftest import ROOT

    config = Config.load(ROOT / "configs" / "default.yaml", env=False).replace(
        index={"root": str(tmp_path / "index")}, ui={"password": "secret"})
    with pytest.raises(ConfigError, match="ui.username is not set"):
        serve(config, port=1, prevent_thread_lock=True)
