"""``generateContent``, ``streamGenerateContent`` and ``countTokens`` on base and tuned models.

``proto_json`` reads a body against the API's request schemas, ``request``
checks it, ``answer`` writes a deterministic answer (``values`` for anything a
schema constrains, ``tokens`` for every count), ``handlers`` are the routes.
"""
