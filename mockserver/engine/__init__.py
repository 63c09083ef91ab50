"""From a request to its timed answer: choosing the scenario, planning the stream, chaos, writing on time."""
