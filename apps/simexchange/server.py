"""The simulated exchange server: a subset of Binance's spot REST API over the synthetic market.

    sim = SimExchange(seed=7, history_days=3, accounts=[("key", "secret")])
    port = sim.start()          # background thread with its own event loop; port 0 = free port
    ...                         # point ccxt at sim.url; inspect sim.state / sim.engine / sim.faults
    sim.stop()

`python manage.py simexchange` runs the same object in the foreground (SimExchange.run_forever).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import threading
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

from apps.engine.market_sim import DAY_MS, MINUTE_MS, MarketSim
from apps.simexchange import control, handlers
from apps.simexchange.auth import account_authenticate
from apps.simexchange.clock import SimClock
from apps.simexchange.errors import BinanceError
from apps.simexchange.faults import Faults
from apps.simexchange.keys import ACCOUNT, PARAMS, SIM
from apps.simexchange.markets import DEFAULT_RULES, MarketRules
from apps.simexchange.matching import FeeModel, MatchingEngine, OrderRequest
from apps.simexchange.ratelimit import RateLimiter
from apps.simexchange.state import Account, ExchangeState

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
HAND_PREFIX = "hand-"  # the client order id of a trade placed by hand (not by the desk)


class SimExchange:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 7,
        history_days: float = 3,
        speed: float = 1.0,
        start_ms: int | None = None,
        accounts: Iterable[tuple[str, str]] = (),
        balances: dict[str, Decimal] | None = None,
        state_file: str | Path | None = None,
        fees: FeeModel | None = None,
        rate_limit_per_minute: int = 6000,
        rules: dict[str, MarketRules] | None = None,
    ):
        self.host, self.port = host, port
        self.clock = SimClock(speed=speed, start_ms=start_ms)
        self.market = MarketSim(seed=seed)
        self.rules = dict(rules or DEFAULT_RULES)
        self.rules_by_id = {r.market_id: r for r in self.rules.values()}
        self.state_file = Path(state_file) if state_file else None
        self.state = ExchangeState.load(self.state_file) if self.state_file else ExchangeState()
        self.engine = MatchingEngine(
            state=self.state, market=self.market, rules=self.rules, clock=self.clock, fees=fees or FeeModel()
        )
        self.faults = Faults()
        self.limiter = RateLimiter(rate_limit_per_minute)
        now = self.clock.now_ms()
        self.history_start_ms = now - now % MINUTE_MS - int(history_days * DAY_MS)
        self.default_balances = balances
        for api_key, secret in accounts:
            self.account_create(api_key=api_key, secret=secret, balances=balances)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- direct access (tests, commands) -------------------------------------------------

    def account_create(self, *, api_key: str, secret: str, balances: dict[str, Decimal] | None = None) -> Account:
        return self.state.account_ensure(
            api_key=api_key, secret=secret, balances=balances if balances is not None else self.default_balances
        )

    def price_pin(self, symbol: str, price: Decimal | None) -> None:
        """Test hook: fix a symbol's price (None: back to the synthetic path), then match."""
        with self.state.lock:
            if price is None:
                self.engine.price_overrides.pop(symbol, None)
            else:
                self.engine.price_overrides[symbol] = self.rules[symbol].price_round(price)
        self.engine.resting_match()

    def balance_set(self, api_key: str, asset: str, free: Decimal) -> None:
        """A deposit or withdrawal outside the desk: the asset's free balance becomes `free`."""
        with self.state.lock:
            self.state.accounts[api_key].free[asset] = free

    def trade_by_hand(self, api_key: str, *, symbol: str, side: str, amount: Decimal):
        """A market order on the account that the desk did not send (a person on the exchange's
        own page). Same matching, fees and filters as any order. Returns (order, trades)."""
        with self.state.lock:
            account = self.state.accounts[api_key]
            request = OrderRequest(
                symbol=symbol,
                side=side.upper(),
                type="MARKET",
                quantity=self.rules[symbol].qty_floor(amount),
                quote_qty=None,
                price=None,
                time_in_force=None,
                client_order_id=f"{HAND_PREFIX}{self.state.next_order_id}",
            )
            return self.engine.order_place(account, request)

    def advance(self, seconds: float) -> int:
        """Test hook: move the simulated clock forward and match resting orders at once."""
        now = self.clock.advance(seconds)
        self.engine.resting_match()
        return now

    def orders(self, api_key: str | None = None):
        return self.state.orders_all(api_key)

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> int:
        """Serve on a background thread with its own event loop; returns the bound port."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="simexchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"simexchange did not start: {self._error!r}")
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_forever(self, on_ready=None) -> None:
        """Foreground: serve until SIGINT/SIGTERM."""

        async def main():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: self._stopping and self._stopping.set())
            await self._serve(on_ready=on_ready)

        asyncio.run(main())

    async def _serve(self, on_ready=None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
        except BaseException as error:
            self._error = error
            self._ready.set()
            await runner.cleanup()
            raise
        ticker = asyncio.create_task(self._tick_forever())
        self._ready.set()
        if on_ready:
            on_ready(self)
        await self._stopping.wait()
        ticker.cancel()
        await runner.cleanup()
        self.save()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.engine.resting_match()
                self.save()
            except Exception:
                log.exception("simexchange tick failed")

    def save(self) -> None:
        if self.state_file is not None:
            self.state.save(self.state_file)

    async def connection_hold(self, request: web.Request, seconds: float) -> None:
        """Keep the client waiting (it times out), then drop the connection unanswered."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _error_response(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


async def _request_params(request: web.Request) -> tuple[dict, str]:
    raw_body = await request.text() if request.can_read_body else ""
    params = dict(request.query)
    params.update(parse_qsl(raw_body, keep_blank_values=True))
    return params, raw_body


async def _faulted(sim: SimExchange, request: web.Request) -> web.StreamResponse | None:
    """The response a scripted fault imposes on this request, if any."""
    mode = sim.faults.down_mode_now()
    if mode == "reset":
        request.transport.close()
        raise asyncio.CancelledError
    if mode:
        return web.Response(status=503, text="Service Unavailable")
    delay = sim.faults.latency_take(request.path)
    if delay:
        await asyncio.sleep(delay)
    fault = sim.faults.error_take(request.method, request.path)
    if fault is not None:
        if fault.text is not None:
            return web.Response(status=fault.status, text=fault.text, content_type="application/json")
        body = fault.body()
        if body is None:
            return web.Response(status=fault.status, text="Simulated failure")  # no code: ccxt maps the HTTP status
        return web.json_response(body, status=fault.status)
    if not sim.limiter.allow(request.remote or ""):
        return _error_response(
            429, -1003, f"Too much request weight used; current limit is {sim.limiter.per_minute:d} request weight per 1 MINUTE."
        )
    return None


@web.middleware
async def binance_middleware(request: web.Request, handler):
    sim: SimExchange = request.app[SIM]
    if request.path.startswith("/sim/"):
        if not _loopback(request):
            return web.json_response({"error": "control endpoints answer on the loopback only"}, status=403)
        try:
            return await handler(request)
        except (control.ControlError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=400)
    faulted = await _faulted(sim, request)
    if faulted is not None:
        return faulted
    try:
        request[PARAMS], raw_body = await _request_params(request)
        if request.path in handlers.PRIVATE_PATHS:
            with sim.state.lock:
                request[ACCOUNT] = account_authenticate(
                    sim.state,
                    api_key=request.headers.get("X-MBX-APIKEY"),
                    raw_query=request.rel_url.raw_query_string,
                    raw_body=raw_body,
                    params=request[PARAMS],
                    wall_ms=sim.clock.wall_ms(),
                )
            sim.engine.resting_match()
        return await handler(request)
    except BinanceError as error:
        return _error_response(error.status, error.code, error.msg)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("simexchange handler failed")
        return _error_response(500, -1000, "An unknown error occurred while processing the request.")


def build_app(sim: SimExchange) -> web.Application:
    app = web.Application(middlewares=[binance_middleware])
    app[SIM] = sim
    app.add_routes(handlers.routes)
    app.add_routes(control.routes)
    return app
