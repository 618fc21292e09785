from hypothesis import settings
from hypothesis.stateful import rule, precondition
from hypothesis import strategies as st
from tests.matching.test_differential import BooksInLockstep, as_rows
from tests import strategies
from matching._book import Book

class Probe(BooksInLockstep):
    other_cls = Book
    def _amend_ok(self, oid, qty, price):
        if oid not in self.ref:
            return True
        o = self.ref._orders[oid]
        p = price or o.price
        return self.ref._fits_window(o.side, p) == self.ref._fits_window(o.side, p, ignoring=o)
    @rule(args=strategies.market_args)
    def market(self, args):
        if args["oid"] in self.ref:
            return
        self.both("market", **args)
    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data(), qty=strategies.amend_quantities, price=strategies.amend_prices)
    def amend_resting(self, data, qty, price):
        oid = data.draw(st.sampled_from(self.resting_ids()), label="oid")
        if self._amend_ok(oid, qty, price):
            self.both("amend", oid, qty, price)
    @rule(args=strategies.amend_args)
    def amend_any(self, args):
        if self._amend_ok(**args):
            self.both("amend", **args)
    @rule(msgs=strategies.msg_batches(max_size=12))
    def process(self, msgs):
        msgs = msgs.copy()
        m = msgs["kind"] == 2
        msgs["oid"][m] = 10**12 + msgs["oid"][m] % 1000
        expected = self.ref.process(msgs)
        got = self.other.process(msgs.copy())
        assert as_rows(got) == as_rows(expected), "process() fills"

TestProbe = Probe.TestCase
TestProbe.settings = settings(max_examples=300, stateful_step_count=60, deadline=None, database=None)
