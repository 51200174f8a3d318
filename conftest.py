"""pytest set-up for every test folder of the repository: tests write only to temporary folders.

Hypothesis keeps its example database and caches in ``./.hypothesis`` unless told
otherwise; here they go to the system's temporary folder, so ``make test`` leaves the
working tree as it found it.
"""

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "crm-audit-hypothesis")
