"""The example flows (`*.json`), the starter templates (`templates/*.json`) and their
sample data (`data/`), shipped inside the installed package so the builder's gallery
lists them on every install; `ui.services.examples_dir()` finds them through
importlib.resources. Run one from a checkout with `chainloom run flows/hello.json`."""
