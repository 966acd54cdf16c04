paycheck-server openapi --check   # exit 1 when docs/openapi/*.yml are stale
