pip install -e ".[cli]"   # the SDK and the paycheck command; the SDK alone needs only "."
