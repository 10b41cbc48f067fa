"""Streamlit helpers shared by app.py and views/ (the only part of the package that imports streamlit)."""
