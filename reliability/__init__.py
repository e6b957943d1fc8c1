"""The reliability suite (`make reliability`): see `reliability/run.py`."""
