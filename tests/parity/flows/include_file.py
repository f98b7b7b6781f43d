from metaflow import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    """IncludeFile reads the file when the run starts and keeps its content as an artifact."""

    notes = IncludeFile("notes", default="data/notes.txt", help="a text file")
    raw = IncludeFile("raw", is_text=False, default="data/notes.txt")

    @step
    def start(self):
        self.lines = self.notes.splitlines()
        self.raw_type = type(self.raw).__name__
        self.next(self.end)

    @step
    def end(self):
        self.first = self.lines[0]


if __name__ == "__main__":
    IncludeFileFlow()
