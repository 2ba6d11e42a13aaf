"""A realistic month of a fictional retailer, recorded through the public API."""

from dispatchledger.adapters.demo.scenario import DemoMonth, ScenarioTotals

__all__ = ["DemoMonth", "ScenarioTotals"]
