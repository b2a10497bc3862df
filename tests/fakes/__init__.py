"""In-memory fakes of the services' ports, for tests that exercise the services without a
database. ``tests/store/test_metadata_port_contract.py`` holds each fake to the real
store's behaviour."""

from tests.fakes.metadata import InMemoryMetadataSession, InMemoryMetadataStore

__all__ = ["InMemoryMetadataSession", "InMemoryMetadataStore"]
