"""A sample freqtrade strategy for the perpsim mock exchange: long after a 1-minute candle
with trades in it (volume > 0), short-lived (every exit by the ROI table as
soon as the trade is open, so an end-to-end test sees an entry and an exit in about a
minute)."""
from pandas import DataFrame

from freqtrade.strategy import IStrategy


class PerpsimSample(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = False
    startup_candle_count = 0
    stoploss = -0.5
    minimal_roi = {"0": -1}          # leave at the first check after the entry fills
    process_only_new_candles = False
    use_exit_signal = False

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs) -> float:
        return 2.0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["volume"] > 0, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe
