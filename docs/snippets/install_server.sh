pip install -e ".[server]"     # SQLite; ".[postgres]" adds the PostgreSQL driver
