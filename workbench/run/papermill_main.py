"""``python -m papermill`` as a sweep runs it for each variant (``task.papermill_command``), without the 1.7 s of
CPU that importing papermill otherwise spends in ``rfc3987_syntax``: jsonschema (nbformat validates notebooks with
it) imports that optional package when it is installed, and it compiles an IRI grammar at import. jsonschema
imports it inside ``suppress(ImportError)``, to check the ``iri`` string formats, which the notebook schemas never
use; marked absent here, it is skipped. Everything else is papermill's own command line.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # `import rfc3987_syntax` -> ImportError

from papermill.cli import papermill  # noqa: E402

if __name__ == "__main__":
    papermill()
