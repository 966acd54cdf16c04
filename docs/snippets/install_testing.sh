pip install -e ".[testing]"    # the pytest plugin and the payment server it runs
