"""The notice and page templates, installed as the package `service.templates`.

This folder stays at the top of the repository; setup.py maps it into the package so that
every install carries it (see service/packaged.py for how the code finds it).
"""
