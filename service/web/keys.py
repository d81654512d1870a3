"""Typed application keys shared by the web modules."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from service.settings import Settings
from service.usecases.policies import Policies

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
POLICIES = web.AppKey("policies", Policies)  # built once from SETTINGS (usecases.policies)
