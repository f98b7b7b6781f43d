import datetime
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction

from metaflow import FlowSpec, step


class ValueKindsFlow(FlowSpec):
    """Artifacts of many kinds keep their exact type and value through the datastore."""

    @step
    def start(self):
        self.a_none = None
        self.a_bool = True
        self.a_big = 2**80
        self.a_float = 0.1 + 0.2
        self.a_nan_text = repr(float("nan"))
        self.a_bytes = b"\x00\xffdata"
        self.a_tuple = (1, "two", (3.0,))
        self.a_set = {3, 1, 2}
        self.a_frozen = frozenset({"x", "y"})
        self.a_nested = {"k": [1, {"deep": (None, b"")}]}
        self.a_ordered = OrderedDict([("b", 1), ("a", 2)])
        self.a_date = datetime.date(2024, 2, 29)
        self.a_decimal = Decimal("1.10")
        self.a_fraction = Fraction(1, 3)
        self.a_unicode = "naïve ünïcödé ✓"
        self.a_empty = ([], {}, (), "")
        self.next(self.end)

    @step
    def end(self):
        self.kinds = sorted(type(getattr(self, n)).__name__ for n in (
            "a_none", "a_bool", "a_big", "a_float", "a_bytes", "a_tuple", "a_set",
            "a_frozen", "a_nested", "a_ordered", "a_date", "a_decimal", "a_fraction"))


if __name__ == "__main__":
    ValueKindsFlow()
