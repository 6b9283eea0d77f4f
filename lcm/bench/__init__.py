"""`lcm bench`: what an LCM costs, measured side by side in one run (run.py has the phases in order)."""
