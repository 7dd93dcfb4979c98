"""Report builders: each returns a list of `chiso.doc` blocks for a notebook to display."""
