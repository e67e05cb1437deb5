"""``python -m ieegrsa.config > config.yaml`` writes the commented template, every setting at
its default."""

import sys

from . import config_template_yaml

sys.stdout.write(config_template_yaml())
