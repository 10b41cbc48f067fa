"""Lesson extraction: trajectory rendering, the analysts, evidence grounding and the parallel fleet."""
