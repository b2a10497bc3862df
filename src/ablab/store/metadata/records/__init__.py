"""The metadata records on SQL, one module per room of the services' ports
(``services.ports``); ``store.metadata.session`` composes them into one session."""
