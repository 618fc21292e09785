"""Stub of the compiled gateway loop ``exchange.sim._gateway``."""
import numpy as np

from exchange._core import VenueCore

def deliver(core: VenueCore, instr: int, ts: np.ndarray, acct: np.ndarray, kind: np.ndarray, side: np.ndarray, qty: np.ndarray, price: np.ndarray, otype: np.ndarray, tif: np.ndarray, reduce_only: np.ndarray, target: np.ndarray, oid_out: np.ndarray, code_out: np.ndarray) -> object:
    """Process every row in order (the arrays are the queue's columns, one length);"""

