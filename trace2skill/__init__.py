"""Trace2Skill: distil LLM-agent trajectories into a reviewed, conflict-free Agent Skill."""

__version__ = "0.1.0"
