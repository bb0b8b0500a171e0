//! Tests of the spark emulator over HTTP.
