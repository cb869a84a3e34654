//! Mobile bindings over client-core.
