PAYCHECK_REGISTRY_REFRESH_SECONDS=30 paycheck-server serve --registry-url http://registry.internal:8080
