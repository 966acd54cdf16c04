paycheck-server serve --catalog catalog.toml --database-url sqlite+aiosqlite:///./paycheck.db
