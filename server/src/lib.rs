//! The relay the city office runs. The HTTP API, auth and relay store come with the sync protocol.
