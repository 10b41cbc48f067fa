"""Replay verification of lessons: does a lesson fix the failure it came from (or keep the success)?"""
