//! Tests of the opentoclose emulator over HTTP.
