# expect: 172:5: step 'leaf' is nested inside 33 splits or foreach; at most 32 levels are supported
from sfncompile import FlowSpec, step


class F(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.o1, foreach="items")

    @step
    def o1(self):
        self.items = [1]
        self.next(self.o2, foreach="items")

    @step
    def o2(self):
        self.items = [1]
        self.next(self.o3, foreach="items")

    @step
    def o3(self):
        self.items = [1]
        self.next(self.o4, foreach="items")

    @step
    def o4(self):
        self.items = [1]
        self.next(self.o5, foreach="items")

    @step
    def o5(self):
        self.items = [1]
        self.next(self.o6, foreach="items")

    @step
    def o6(self):
        self.items = [1]
        self.next(self.o7, foreach="items")

    @step
    def o7(self):
        self.items = [1]
        self.next(self.o8, foreach="items")

    @step
    def o8(self):
        self.items = [1]
        self.next(self.o9, foreach="items")

    @step
    def o9(self):
        self.items = [1]
        self.next(self.o10, foreach="items")

    @step
    def o10(self):
        self.items = [1]
        self.next(self.o11, foreach="items")

    @step
    def o11(self):
        self.items = [1]
        self.next(self.o12, foreach="items")

    @step
    def o12(self):
        self.items = [1]
        self.next(self.o13, foreach="items")

    @step
    def o13(self):
        self.items = [1]
        self.next(self.o14, foreach="items")

    @step
    def o14(self):
        self.items = [1]
        self.next(self.o15, foreach="items")

    @step
    def o15(self):
        self.items = [1]
        self.next(self.o16, foreach="items")

    @step
    def o16(self):
        self.items = [1]
        self.next(self.o17, foreach="items")

    @step
    def o17(self):
        self.items = [1]
        self.next(self.o18, foreach="items")

    @step
    def o18(self):
        self.items = [1]
        self.next(self.o19, foreach="items")

    @step
    def o19(self):
        self.items = [1]
        self.next(self.o20, foreach="items")

    @step
    def o20(self):
        self.items = [1]
        self.next(self.o21, foreach="items")

    @step
    def o21(self):
        self.items = [1]
        self.next(self.o22, foreach="items")

    @step
    def o22(self):
        self.items = [1]
        self.next(self.o23, foreach="items")

    @step
    def o23(self):
        self.items = [1]
        self.next(self.o24, foreach="items")

    @step
    def o24(self):
        self.items = [1]
        self.next(self.o25, foreach="items")

    @step
    def o25(self):
        self.items = [1]
        self.next(self.o26, foreach="items")

    @step
    def o26(self):
        self.items = [1]
        self.next(self.o27, foreach="items")

    @step
    def o27(self):
        self.items = [1]
        self.next(self.o28, foreach="items")

    @step
    def o28(self):
        self.items = [1]
        self.next(self.o29, foreach="items")

    @step
    def o29(self):
        self.items = [1]
        self.next(self.o30, foreach="items")

    @step
    def o30(self):
        self.items = [1]
        self.next(self.o31, foreach="items")

    @step
    def o31(self):
        self.items = [1]
        self.next(self.o32, foreach="items")

    @step
    def o32(self):
        self.items = [1]
        self.next(self.leaf, foreach="items")

    @step
    def leaf(self):
        self.next(self.j32)

    @step
    def j32(self, inputs):
        self.next(self.j31)

    @step
    def j31(self, inputs):
        self.next(self.j30)

    @step
    def j30(self, inputs):
        self.next(self.j29)

    @step
    def j29(self, inputs):
        self.next(self.j28)

    @step
    def j28(self, inputs):
        self.next(self.j27)

    @step
    def j27(self, inputs):
        self.next(self.j26)

    @step
    def j26(self, inputs):
        self.next(self.j25)

    @step
    def j25(self, inputs):
        self.next(self.j24)

    @step
    def j24(self, inputs):
        self.next(self.j23)

    @step
    def j23(self, inputs):
        self.next(self.j22)

    @step
    def j22(self, inputs):
        self.next(self.j21)

    @step
    def j21(self, inputs):
        self.next(self.j20)

    @step
    def j20(self, inputs):
        self.next(self.j19)

    @step
    def j19(self, inputs):
        self.next(self.j18)

    @step
    def j18(self, inputs):
        self.next(self.j17)

    @step
    def j17(self, inputs):
        self.next(self.j16)

    @step
    def j16(self, inputs):
        self.next(self.j15)

    @step
    def j15(self, inputs):
        self.next(self.j14)

    @step
    def j14(self, inputs):
        self.next(self.j13)

    @step
    def j13(self, inputs):
        self.next(self.j12)

    @step
    def j12(self, inputs):
        self.next(self.j11)

    @step
    def j11(self, inputs):
        self.next(self.j10)

    @step
    def j10(self, inputs):
        self.next(self.j9)

    @step
    def j9(self, inputs):
        self.next(self.j8)

    @step
    def j8(self, inputs):
        self.next(self.j7)

    @step
    def j7(self, inputs):
        self.next(self.j6)

    @step
    def j6(self, inputs):
        self.next(self.j5)

    @step
    def j5(self, inputs):
        self.next(self.j4)

    @step
    def j4(self, inputs):
        self.next(self.j3)

    @step
    def j3(self, inputs):
        self.next(self.j2)

    @step
    def j2(self, inputs):
        self.next(self.j1)

    @step
    def j1(self, inputs):
        self.next(self.j0)

    @step
    def j0(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
