"""HTTP API under /api/v1: thin routes that build a command and hand it on."""
