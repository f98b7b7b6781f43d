from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown, Table


class CardDefaultFlow(FlowSpec):
    """@card with components appended in the step; the artifacts are unchanged by it."""

    @card
    @step
    def start(self):
        self.rows = [[1, "a"], [2, "b"]]
        current.card.append(Markdown("# Report"))
        current.card.append(Table(self.rows, headers=["n", "letter"]))
        self.next(self.end)

    @step
    def end(self):
        self.row_count = len(self.rows)


if __name__ == "__main__":
    CardDefaultFlow()
