pip install -e ".[fastapi]"   # from a checkout; or ".[asgi]", ".[flask]", ".[all]"
