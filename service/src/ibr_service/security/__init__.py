"""Security of the standalone host: clients, tokens, keys, message checks, SSRF and limits."""
