"""Relabel what the workers rejected: a chained built-in image classification job (issue 15).

BulkQA's own job finds false positives; this package sends the rejected images to Ground Truth's
built-in single-label image classification task so the training data coming back is corrected,
not only filtered. Pure planning lives in ``plan``, ``regions`` and ``output_manifest``; AWS I/O in
``store``; the command in ``bulkqa.relabel_command``.
"""
