"""The OpenAI wire formats: request checks, rendering, errors, ids."""
