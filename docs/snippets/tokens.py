"""Make and check secrets with paycheck_core.tokens; no server involved."""

from paycheck_core import tokens

token = tokens.generate_token()
assert token.startswith(tokens.TOKEN_PREFIX)  # pct_; an artifact starts with pca_
assert len(token) == tokens.SECRET_LENGTH == 53
assert tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX)
assert not tokens.is_well_formed(token[:-1])  # truncated: the checksum no longer matches
assert not tokens.is_well_formed(token, prefix=tokens.ARTIFACT_PREFIX)  # a token, not an artifact

print(tokens.digest(token))  # the SHA-256 hex digest: the only form the server stores
