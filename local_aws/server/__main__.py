"""``python -m local_aws.server -H 127.0.0.1 -p PORT``: moto's server with the fixes applied."""

from __future__ import annotations

import sys

from local_aws.server.fixes import main

if __name__ == "__main__":
    main(sys.argv[1:])
