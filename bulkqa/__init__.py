"""The ``bulkqa`` command line: seed, preview, create the labeling job, report and export."""

__version__ = "0.1.0"
