import pytest
from hypothesis import settings
from hypothesis.stateful import rule
from hypothesis import strategies as st
from tests.matching.test_differential import BooksInLockstep
from tests import strategies

class Probe(BooksInLockstep):
    def malformed_call(self, call):  # plain method: no longer a rule
        pass
    @rule(args=strategies.market_args)
    def market(self, args):
        if args["oid"] in self.ref:
            return
        self.both("market", **args)
    def process(self, msgs):
        pass

TestProbe = Probe.TestCase
TestProbe.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
