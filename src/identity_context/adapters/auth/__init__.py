"""Token verification: trusted issuers, JWKS key sources and the local development issuer."""
