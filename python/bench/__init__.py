"""`just bench`: the bookstore's servers and front ends measured side by side (see run.py)."""
