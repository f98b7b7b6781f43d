"""A 40-way static split."""

from sfncompile import FlowSpec, step


class WideSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.b00, self.b01, self.b02, self.b03, self.b04, self.b05, self.b06, self.b07, self.b08, self.b09, self.b10, self.b11, self.b12, self.b13, self.b14, self.b15, self.b16, self.b17, self.b18, self.b19, self.b20, self.b21, self.b22, self.b23, self.b24, self.b25, self.b26, self.b27, self.b28, self.b29, self.b30, self.b31, self.b32, self.b33, self.b34, self.b35, self.b36, self.b37, self.b38, self.b39)

    @step
    def b00(self):
        self.v = 0
        self.next(self.join)

    @step
    def b01(self):
        self.v = 1
        self.next(self.join)

    @step
    def b02(self):
        self.v = 2
        self.next(self.join)

    @step
    def b03(self):
        self.v = 3
        self.next(self.join)

    @step
    def b04(self):
        self.v = 4
        self.next(self.join)

    @step
    def b05(self):
        self.v = 5
        self.next(self.join)

    @step
    def b06(self):
        self.v = 6
        self.next(self.join)

    @step
    def b07(self):
        self.v = 7
        self.next(self.join)

    @step
    def b08(self):
        self.v = 8
        self.next(self.join)

    @step
    def b09(self):
        self.v = 9
        self.next(self.join)

    @step
    def b10(self):
        self.v = 10
        self.next(self.join)

    @step
    def b11(self):
        self.v = 11
        self.next(self.join)

    @step
    def b12(self):
        self.v = 12
        self.next(self.join)

    @step
    def b13(self):
        self.v = 13
        self.next(self.join)

    @step
    def b14(self):
        self.v = 14
        self.next(self.join)

    @step
    def b15(self):
        self.v = 15
        self.next(self.join)

    @step
    def b16(self):
        self.v = 16
        self.next(self.join)

    @step
    def b17(self):
        self.v = 17
        self.next(self.join)

    @step
    def b18(self):
        self.v = 18
        self.next(self.join)

    @step
    def b19(self):
        self.v = 19
        self.next(self.join)

    @step
    def b20(self):
        self.v = 20
        self.next(self.join)

    @step
    def b21(self):
        self.v = 21
        self.next(self.join)

    @step
    def b22(self):
        self.v = 22
        self.next(self.join)

    @step
    def b23(self):
        self.v = 23
        self.next(self.join)

    @step
    def b24(self):
        self.v = 24
        self.next(self.join)

    @step
    def b25(self):
        self.v = 25
        self.next(self.join)

    @step
    def b26(self):
        self.v = 26
        self.next(self.join)

    @step
    def b27(self):
        self.v = 27
        self.next(self.join)

    @step
    def b28(self):
        self.v = 28
        self.next(self.join)

    @step
    def b29(self):
        self.v = 29
        self.next(self.join)

    @step
    def b30(self):
        self.v = 30
        self.next(self.join)

    @step
    def b31(self):
        self.v = 31
        self.next(self.join)

    @step
    def b32(self):
        self.v = 32
        self.next(self.join)

    @step
    def b33(self):
        self.v = 33
        self.next(self.join)

    @step
    def b34(self):
        self.v = 34
        self.next(self.join)

    @step
    def b35(self):
        self.v = 35
        self.next(self.join)

    @step
    def b36(self):
        self.v = 36
        self.next(self.join)

    @step
    def b37(self):
        self.v = 37
        self.next(self.join)

    @step
    def b38(self):
        self.v = 38
        self.next(self.join)

    @step
    def b39(self):
        self.v = 39
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.count = len(list(inputs))
        self.next(self.end)

    @step
    def end(self):
        pass
