"""Placeholder until the screen lands."""

import streamlit as st

st.title("skills")
