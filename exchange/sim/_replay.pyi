"""Stub of the compiled replay kernels ``exchange.sim._replay``."""
import numpy as np

from exchange._core import VenueCore
from matching import Book

def set_level(core: VenueCore, book: Book, levels: dict, maker: int, instr: int, side: int, price: int, target: int, max_lots: int) -> object:
    """One level to ``target`` lots (see RecordedBook.set_level); returns (commands,"""

def reconcile(core: VenueCore, book: Book, levels: dict, placed: dict, maker: int, instr: int, max_lots: int, keys: np.ndarray, qtys: np.ndarray) -> object:
    """The window ``keys`` (price·2 + side) → ``qtys`` against ``placed`` (see"""

def fold_rows(state: np.ndarray, side: np.ndarray, rank: np.ndarray, qty: np.ndarray) -> object:
    """``state[side[i], rank[i]] = qty[i]`` for every row in order (the last value of a level"""

def fold_rows_best(state: np.ndarray, side: np.ndarray, rank: np.ndarray, qty: np.ndarray, best: np.ndarray) -> object:
    """:func:`fold_rows`, keeping ``best`` = (best bid rank, best ask rank) of the state"""

def window(state: np.ndarray, prices: np.ndarray, best: np.ndarray, depth: int, keys: np.ndarray, qtys: np.ndarray) -> object:
    """The top ``depth`` non-empty levels of each side into ``keys`` (price·2 + side) and"""

def tape(core: VenueCore, instr: int, taker: int, maker: int, side: np.ndarray, price: np.ndarray, qty: np.ndarray) -> object:
    """RecordedBook.trade: one IOC per aggressor side (the first trade's side first) for the"""

