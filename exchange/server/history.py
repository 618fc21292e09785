"""Market history of the mock server: the venue's own trades, mark, index and premium
samples, and Binance's klines built from them.

Kline rules follow Binance USDⓈ-M's ``GET /fapi/v1/klines``
(https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data,
read 2026-12-02): intervals 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M; a kline is
``[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase,
takerBuyQuote, "0"]``, identified by its open time; ``limit`` default 500, max 1500; with
``startTime`` the klines from there on, with only ``endTime`` the last ``limit`` up to it,
with neither the latest ``limit`` (the open one included). Weeks open on Monday 00:00 UTC,
months on the 1st; an interval with no trade repeats the previous close with zero volume
(as Binance shows a quiet market). ``markPriceKlines`` / ``indexPriceKlines`` /
``premiumIndexKlines`` are built the same way from the price samples, with zero volumes and
the sample count in the trades column.
"""
from __future__ import annotations

import bisect
import calendar
from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["INTERVALS", "Series", "kline_open", "kline_close", "klines", "PositionStats",
           "STAT_PERIODS", "stat_times"]

_MIN = 60_000
INTERVALS: dict[str, int] = {
    "1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN,
    "1h": 60 * _MIN, "2h": 120 * _MIN, "4h": 240 * _MIN, "6h": 360 * _MIN, "8h": 480 * _MIN,
    "12h": 720 * _MIN, "1d": 1440 * _MIN, "3d": 3 * 1440 * _MIN, "1w": 7 * 1440 * _MIN,
    "1M": -1,
}
_MONDAY_OFFSET = 4 * 1440 * _MIN       # 1970-01-01 was a Thursday; Monday 1970-01-05


def kline_open(interval: str, t_ms: int) -> int:
    """Open time of the ``interval`` kline holding ``t_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
        return calendar.timegm((d.year, d.month, 1, 0, 0, 0)) * 1000
    width = INTERVALS[interval]
    if interval == "1w":
        return (t_ms - _MONDAY_OFFSET) // width * width + _MONDAY_OFFSET
    return t_ms // width * width


def kline_close(interval: str, open_ms: int) -> int:
    """Close time (last millisecond) of the kline opening at ``open_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(open_ms / 1000, tz=UTC)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return calendar.timegm((y, m, 1, 0, 0, 0)) * 1000 - 1
    return open_ms + INTERVALS[interval] - 1


class Series:
    """Time-ordered samples ``(t_ms, price, qty, taker_buy, trade_id)`` (qty 0 and id 0 for
    price samples),
    capped at ``cap`` (the oldest half is dropped when full)."""

    def __init__(self, cap: int = 200_000) -> None:
        self.t: list[int] = []
        self.rows: list[tuple] = []
        self.cap = cap

    def add(self, t_ms: int, price: Decimal, qty: Decimal = Decimal(0), taker_buy: bool = False,
            trade_id: int = 0):
        if self.t and t_ms < self.t[-1]:
            t_ms = self.t[-1]                      # the wall clock never steps back here
        self.t.append(t_ms)
        self.rows.append((t_ms, price, qty, taker_buy, trade_id))
        if len(self.t) > self.cap:
            del self.t[: self.cap // 2]
            del self.rows[: self.cap // 2]

    def __len__(self) -> int:
        return len(self.t)


def _fmt(d) -> str:
    d = Decimal(d)
    return format(d.normalize(), "f") if d else "0"


def _next_open(interval: str, open_ms: int) -> int:
    return kline_close(interval, open_ms) + 1


def klines(series: Series, interval: str, now_ms: int, start: int | None, end: int | None,
           limit: int, volume: bool = True, ids: list | None = None) -> list[list]:
    """Binance klines of ``series`` (see the module's rules). ``ids``, if given, receives
    ``(first, last)`` trade ids of each kline (``(-1, -1)`` for one without trades, as
    Binance's kline stream shows)."""
    if not series.t:
        return []
    first_open = kline_open(interval, series.t[0])
    last_open = kline_open(interval, max(now_ms, series.t[-1]))
    if start is not None:           # the klines opening at or after ``start``
        lo = kline_open(interval, start)
        if lo < start:
            lo = _next_open(interval, lo)
        lo = max(lo, first_open)
    else:
        lo = None
    hi = last_open if end is None else min(last_open, kline_open(interval, end))
    if lo is None:
        # the last ``limit`` klines ending at ``hi``
        lo = hi
        for _ in range(limit - 1):
            if lo <= first_open:
                break
            lo = kline_open(interval, lo - 1)
        lo = max(lo, first_open)
    out: list[list] = []
    # the close before ``lo`` carries into empty klines
    k = bisect.bisect_left(series.t, lo)
    prev_close = series.rows[k - 1][1] if k > 0 else None
    o = lo
    while o <= hi and len(out) < limit:
        c = kline_close(interval, o)
        j = bisect.bisect_right(series.t, c, lo=k)
        rows = series.rows[k:j]
        k = j
        if rows:
            prices = [r[1] for r in rows]
            op, hp, lp, cp = prices[0], max(prices), min(prices), prices[-1]
            vol = sum((r[2] for r in rows), Decimal(0))
            qvol = sum((r[1] * r[2] for r in rows), Decimal(0))
            tb = sum((r[2] for r in rows if r[3]), Decimal(0))
            tbq = sum((r[1] * r[2] for r in rows if r[3]), Decimal(0))
            n = len(rows)
            prev_close = cp
            if ids is not None:
                ids.append((rows[0][4], rows[-1][4]))
        elif prev_close is not None:
            op = hp = lp = cp = prev_close
            vol = qvol = tb = tbq = Decimal(0)
            n = 0
            if ids is not None:
                ids.append((-1, -1))
        else:
            o = _next_open(interval, o)
            continue
        if not volume:
            vol = qvol = tb = tbq = Decimal(0)
        out.append([o, _fmt(op), _fmt(hp), _fmt(lp), _fmt(cp), _fmt(vol), c, _fmt(qvol), n,
                    _fmt(tb), _fmt(tbq), "0"])
        o = _next_open(interval, o)
    return out


# -- positioning statistics (/futures/data) ------------------------------------------------------
#: the periods of Binance's ``/futures/data`` statistics
STAT_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
STAT_BUCKET_MS = 5 * _MIN
#: "Only the data of the latest 30 days is available"
STAT_WINDOW_MS = 30 * 1440 * _MIN


class PositionStats:
    """One instrument's positioning over time, for Binance's ``/futures/data`` statistics
    (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest-Statistics
    and the Long/Short Ratio, Top Trader Long/Short Ratio (Accounts, Positions) and Taker
    Buy/Sell Volume pages, read 2026-12-07).

    ``record(t, row)`` keeps the state after each change (``row``: open interest in lots,
    accounts net long, net short, and of the top traders: accounts long, short, lots long,
    short), the last one of each five-minute bucket; :meth:`at` is the state just before a
    time. ``add_trade`` sums the taker volume per five-minute bucket. Both keep the last 30
    days (and the state that carries into them). Memory O(buckets)."""

    __slots__ = ("t", "rows", "taker")

    def __init__(self) -> None:
        self.t: list[int] = []
        self.rows: list[tuple] = []
        self.taker: dict[int, list] = {}          # bucket open ms -> [taker buy qty, sell qty]

    def record(self, t_ms: int, row: tuple) -> None:
        if self.t and t_ms < self.t[-1]:
            t_ms = self.t[-1]                      # the wall clock never steps back here
        if self.t and self.t[-1] // STAT_BUCKET_MS == t_ms // STAT_BUCKET_MS:
            self.t[-1], self.rows[-1] = t_ms, row
            return
        self.t.append(t_ms)
        self.rows.append(row)
        # beyond the window: all but the last state before it (it carries into the window)
        k = bisect.bisect_left(self.t, t_ms - STAT_WINDOW_MS - STAT_BUCKET_MS) - 1
        if k > 0:
            del self.t[:k]
            del self.rows[:k]
            cut = self.t[0] // STAT_BUCKET_MS * STAT_BUCKET_MS
            for b in [b for b in self.taker if b < cut]:
                del self.taker[b]

    def at(self, t_ms: int) -> tuple | None:
        """The state just before ``t_ms`` (None before the first record)."""
        k = bisect.bisect_left(self.t, t_ms) - 1
        return self.rows[k] if k >= 0 else None

    def add_trade(self, t_ms: int, qty: Decimal, taker_buy: bool) -> None:
        v = self.taker.setdefault(t_ms // STAT_BUCKET_MS * STAT_BUCKET_MS,
                                  [Decimal(0), Decimal(0)])
        v[0 if taker_buy else 1] += qty

    def taker_volume(self, lo: int, hi: int) -> tuple[Decimal, Decimal]:
        """Taker buy and sell volume of the trades in ``[lo, hi)`` (five-minute aligned)."""
        buy = sell = Decimal(0)
        for b in range(lo, hi, STAT_BUCKET_MS):
            v = self.taker.get(b)
            if v is not None:
                buy += v[0]
                sell += v[1]
        return buy, sell


def stat_times(period: str, now_ms: int, first_ms: int | None, start: int | None,
               end: int | None, limit: int) -> list[int]:
    """The timestamps of a ``/futures/data`` answer: multiples of ``period`` (UTC), after the
    first record ``first_ms`` and at most 30 days back, up to ``now_ms``; with ``startTime``
    the first ``limit`` from it, else the last ``limit`` up to ``endTime`` (or now)."""
    if first_ms is None:
        return []
    w = INTERVALS[period]
    lo = max(first_ms // w * w + w, -(-(now_ms - STAT_WINDOW_MS) // w) * w)
    hi = now_ms // w * w
    if end is not None:
        hi = min(hi, end // w * w)
    if start is not None:
        lo = max(lo, -(-start // w) * w)
        return list(range(lo, hi + 1, w))[:limit]
    return list(range(max(lo, hi - (limit - 1) * w), hi + 1, w))
