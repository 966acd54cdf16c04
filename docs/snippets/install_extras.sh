pip install -e ".[fastapi]" uvicorn   # FastAPI, and uvicorn to serve it (from a checkout)
pip install -e ".[asgi]" uvicorn      # Starlette or any ASGI app, and uvicorn
pip install -e ".[flask]"             # Flask, whose "flask run" serves it
