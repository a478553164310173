"""Eval fixtures: the CLI's in-process server, runner and bundle maker (from tests/cli)."""

from __future__ import annotations

from tests.cli.conftest import _cli_env, invoke, make_bundle, server

__all__ = ["_cli_env", "invoke", "make_bundle", "server"]
