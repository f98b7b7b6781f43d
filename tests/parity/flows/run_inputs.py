import os

from metaflow import FlowSpec, Parameter, current, project, step

# Set on import, as Metaflow's own tests set them: a parameter's value when the command line
# does not give it, and the @project branch.
os.environ["METAFLOW_RUN_ALPHA"] = "7"
os.environ["METAFLOW_RUN_BETA"] = "8"
os.environ["METAFLOW_BRANCH"] = "inputs"


def where_default(ctx):
    return f"{current.project_name}/{current.branch_name}/{ctx.parameter_name}"


@project(name="parity_inputs")
class RunInputsFlow(FlowSpec):
    """METAFLOW_RUN_<NAME> and METAFLOW_BRANCH; self._current_step, self._graph,
    self._foreach_stack and current.graph as Metaflow gives them."""

    alpha = Parameter("alpha", default=1)
    beta = Parameter("beta", default=2)
    where = Parameter("where", default=where_default)

    @step
    def start(self):
        """Fan out."""
        self.lineage = (self._current_step,)
        self.stack_sizes = [len(self._foreach_stack)]
        info = current.graph
        self.graph_top = {k: info[k] for k in ("file", "start_step", "end_step", "parameters",
                                               "constants", "graph_structure", "doc")}
        self.graph_steps = {
            name: {k: (os.path.basename(v) if k == "source_file" else v)
                   for k, v in s.items() if k != "decorators"}
            for name, s in info["steps"].items()}
        self.nodes = {n.name: (n.type, list(n.in_funcs), list(n.out_funcs), n.matching_join,
                               list(n.split_parents), n.is_inside_foreach, n.num_args)
                      for n in self._graph}
        self.order = [n.name for n in self._graph]
        self.branch = current.branch_name
        self.project_flow_name = current.project_flow_name
        self.tempdir = current.tempdir
        self.task_is_current = current.task.pathspec == current.pathspec
        self.run_is_current = current.run.pathspec == f"{current.flow_name}/{current.run_id}"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.lineage += (self._current_step,)
        self.rows = ["r0", "r1"]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        self.lineage += (self._current_step,)
        self.cols = [{"c": 0}, 1.5]
        self.next(self.cell, foreach="cols")

    @step
    def cell(self):
        self.lineage += (self._current_step,)
        self.frames = [tuple(f) for f in self._foreach_stack]
        self.next(self.cells_done)

    @step
    def cells_done(self, inputs):
        self.frames = sorted(i.frames for i in inputs)
        self.outer = [tuple(f) for f in self._foreach_stack]
        self.lineage = (*inputs[0].lineage, self._current_step)
        self.next(self.rows_done)

    @step
    def rows_done(self, inputs):
        self.frames = sorted(i.frames for i in inputs)
        self.outer = sorted(i.outer for i in inputs)
        self.after = len(self._foreach_stack)
        self.lineage = (*inputs[0].lineage, self._current_step)
        self.next(self.join)

    @step
    def right(self):
        self.lineage += (self._current_step,)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lineage = (tuple(sorted(i.lineage for i in inputs)), self._current_step)
        self.next(self.end)

    @step
    def end(self):
        self.lineage += (self._current_step,)


if __name__ == "__main__":
    RunInputsFlow()
