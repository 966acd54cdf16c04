export PAYCHECK_DATABASE_URL=postgresql+asyncpg://paycheck:secret@db.internal:5432/paycheck
paycheck-server migrate          # once per release, before the new servers start
paycheck-server serve --workers 2  # on every machine behind the load balancer
