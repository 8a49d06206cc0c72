"""The words of interception are the station's (``station/core/order_state.py``); the hub and the reference WMS may
not import the station and use them as plain strings: they must be the same strings."""
from packgate.station.core import order_state
from packgate.sync.hub import store as hub_store
from packgate.sync.upstream import decisions
from packgate.sync.upstream import store as wms_store


def test_the_hub_and_the_wms_speak_the_stations_words():
    for module in (hub_store, wms_store):
        assert set(module.STOPPING) == order_state.STOPPING
        assert tuple(module.REFUSED_WHEN_CANCELLED) == order_state.REFUSED_WHEN_CANCELLED
        assert module.ORDER_CANCELLED == order_state.ORDER_CANCELLED
    assert set(wms_store.ORDER_CONTENT) == set(decisions.CONTENT)

