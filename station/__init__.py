"""The packing-station workflow, its web UI and the ``packgate`` command line."""
