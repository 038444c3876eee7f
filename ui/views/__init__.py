"""The Streamlit layer of the builder: thin views over ui.workspace and ui.services.

Every mutation happens in a widget callback (before the script body runs), so each
run renders one consistent state; views only read the Workspace and draw it.
"""
