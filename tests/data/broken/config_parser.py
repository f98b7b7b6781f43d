# expect: 18:47: Config 'a': parser= cannot import 'nosuch_parsers': ModuleNotFoundError
# expect: 19:47: Config 'b': parser= `bad_parser` failed: ValueError: not key=value
# expect: 20:47: Config 'c': parser= `listing` returned list ['x'], not a mapping
# expect: 21:29: Config 'd': default must be the path of a file, not 42
# expect: 22:52: Config 'e': parser= `lambda text: {'seen': {1, 2}}` returned dict {'seen': {1, 2}}, which is not JSON
from metaflow import Config, FlowSpec, step


def bad_parser(text):
    raise ValueError("not key=value")


def listing(text):
    return [text]


class F(FlowSpec):
    a = Config("a", default_value="x", parser="nosuch_parsers.loads")
    b = Config("b", default_value="x", parser=bad_parser)
    c = Config("c", default_value="x", parser=listing)
    d = Config("d", default=lambda ctx: 42)
    e = Config("e", default_value={"k": 1}, parser=lambda text: {"seen": {1, 2}})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
