"""``python -m aseml_zif.cli``: the same as the ``aseml-zif`` command."""
import sys

from . import main

sys.exit(main())
