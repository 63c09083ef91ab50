"""Recording real traffic as scenarios, and importing captures as scenarios.

`mockserver record` (and `serve --upstream URL --record FILE`, for the requests no scenario answers) forwards each
request to a real API and streams its answer back as it arrives, while a tee reads the same bytes into the script
model — every delta with its delay, the finish, usage, model, faults — and appends it to a scenario file as a
readable scenario that replays the same stream. `mockserver import` does the same from saved captures.

The parts: `redact` (what never reaches disk), `sse` (event streams as they arrive), `take` (one recorded answer
in the script model), `tees` (each wire format's events and bodies read into a take), `emit` (YAML a person can
read), `scenario_file` (appending to a file safely), `recorder` (names, match rules, sequences), `relay` (the
proxy), `command` (`mockserver record`), `importers` (`mockserver import`).
"""
