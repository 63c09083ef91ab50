"""The script model: scenario files read, checked and turned into answers."""
