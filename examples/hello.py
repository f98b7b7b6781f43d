"""Hello, sfncompile: a parameter, a foreach over it, a join, and a switch on the result.

    sfncompile run examples/hello.py --param greeting=Bonjour
    sfncompile build examples/hello.py
"""

from sfncompile import FlowSpec, Parameter, retry, step


class HelloFlow(FlowSpec):
    greeting = Parameter("greeting", default="Hello", help="How to greet.")
    names = Parameter("names", default="Ada,Grace,Linus", help="Comma-separated names.")

    @step
    def start(self):
        self.people = [n.strip() for n in self.names.split(",") if n.strip()]
        self.next(self.greet, foreach="people")

    @retry(times=1)
    @step
    def greet(self):
        self.message = f"{self.greeting}, {self.input}!"
        print(self.message)
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.messages = [i.message for i in inputs]
        self.size = "crowd" if len(self.messages) > 2 else "few"
        self.next({"crowd": self.wave, "few": self.shake_hands}, condition="size")

    @step
    def wave(self):
        self.gesture = "wave"
        self.next(self.end)

    @step
    def shake_hands(self):
        self.gesture = "handshake"
        self.next(self.end)

    @step
    def end(self):
        print(f"{len(self.messages)} greetings, then a {self.gesture}")
