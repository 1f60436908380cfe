"""The BulkQA provider, started by hand: ``python provider <engine address>``.

Pulumi itself starts the plugin as ``python <repository> <engine address>`` (the root
``__main__.py``, which detects it); this entry point serves the same provider for tools or older
layouts that run ``provider/``. See ``components/provider.py``.
"""

import sys
from pathlib import Path

# Run as a file (``python provider/__main__.py``) or a folder (``python provider``), the
# repository root is not on sys.path yet: add it so `components` and `handlers` import.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from components.provider import PACKAGE_NAME, BulkQAProvider, serve  # noqa: E402

__all__ = ["PACKAGE_NAME", "BulkQAProvider", "serve"]

if __name__ == "__main__":
    serve()
