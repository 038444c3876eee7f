"""Fixtures for the provider tests: the fake OpenAI and Cohere servers, on 127.0.0.1."""

from tests.fakes.cohere_server import cohere_server
from tests.fakes.openai_server import openai_server

__all__ = ["cohere_server", "openai_server"]
