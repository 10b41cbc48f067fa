"""Streamlit helpers shared by app.py and pages/ (the only part of the package that imports streamlit)."""
