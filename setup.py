"""Packages of the distribution (the rest of the metadata is in pyproject.toml).

`templates/` stays at the top of the repository (hotlines edit it; it is part of the
project's layout) and is installed as the package `service.templates`, so a wheel, an sdist
and an editable install all carry it and the code finds it with importlib.resources.
Data folders (SQL, JSON, YAML, templates) are listed as namespace packages so that setuptools
carries their files as package data (tests/unit/test_packaging.py checks the built wheel).
"""

from setuptools import find_namespace_packages, setup

CACHES = ["*.__pycache__", "__pycache__"]
SERVICE = find_namespace_packages(include=["service", "service.*"], exclude=CACHES)
TEMPLATES = [
    "service.templates",
    *(f"service.templates.{name}" for name in find_namespace_packages("templates", exclude=CACHES)),
]

setup(
    packages=[*SERVICE, *TEMPLATES],
    package_dir={"service.templates": "templates"},
    package_data={"": ["*.sql", "*.json", "*.yaml", "*.j2"]},
)
