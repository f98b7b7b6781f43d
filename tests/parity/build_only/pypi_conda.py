from metaflow import FlowSpec, conda, pypi, pypi_base, step


@pypi_base(python="3.11", packages={"requests": "2.32.3"})
class PypiCondaFlow(FlowSpec):
    """@pypi/@conda and their _base forms (a Metaflow run would resolve the packages)."""

    @pypi(packages={"pyyaml": "6.0.2"})
    @step
    def start(self):
        self.next(self.end)

    @conda(libraries={"editdistance": "0.5.3"}, python="3.11")
    @step
    def end(self):
        pass


if __name__ == "__main__":
    PypiCondaFlow()
