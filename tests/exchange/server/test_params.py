"""The server's form/query parser reads what ``urllib.parse.parse_qsl`` reads (its fast path
for strings with nothing to unquote included)."""
from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.server.errors import BinanceError
from exchange.server.params import RequestParams

FORM = st.text(alphabet="ab=&.-_01;%+ é", max_size=60)


@settings(max_examples=1000, deadline=None)
@given(FORM)
def test_parse_is_parse_qsl(text):
    try:
        expected = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        with pytest.raises(BinanceError):
            RequestParams._parse(text)
        return
    assert RequestParams._parse(text) == expected


def test_too_many_fields():
    with pytest.raises(BinanceError) as e:
        RequestParams._parse("&".join(f"a{i}=1" for i in range(201)))
    assert e.value.code == -1101
