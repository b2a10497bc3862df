"""Wire schemas (XCreate / XUpdate / XPublic), shared by the server and the SDK."""
