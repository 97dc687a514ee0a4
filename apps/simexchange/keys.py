"""Typed keys for the aiohttp app and request storage."""

from typing import Any

from aiohttp import web

SIM = web.AppKey("sim", Any)  # the SimExchange serving this app
PARAMS = web.RequestKey("params", dict)  # query + form params of the request
ACCOUNT = web.RequestKey("account", Any)  # the authenticated Account (signed endpoints)
