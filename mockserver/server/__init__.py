"""The HTTP server: the app and its middleware, the control API, the journal, the verdicts, state, running it."""
