"""An installed app whose receivers module autodiscovery must import (test_autodiscovery)."""
