"""What the parts agree on, so that none has to import another: step names, the container's
bootstrap, execution-input keys, event formats, @project branch names and @secrets sources.

The compiler writes these and the runtime reads them (or the other way round). Stdlib only;
imports nothing else of sfncompile.
"""
